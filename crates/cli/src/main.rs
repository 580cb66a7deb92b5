fn main() {
    eprintln!("convlab: no commands yet; see the open issues");
    std::process::exit(2);
}
