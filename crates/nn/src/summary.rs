//! `summary()`: the table Keras 2 prints, column for column (line length 65, columns ending at
//! 29, 55 and 65, long cells wrapped onto the next line exactly as Keras wraps them), so the
//! chapter's output and convlab's can be compared by eye.

use crate::layers::keras_shape;
use crate::Sequential;

const LINE: usize = 65;
const POSITIONS: [usize; 3] = [29, 55, 65];

/// One table row, wrapped like Keras's `print_row`: each column gets its width minus two spaces
/// of separation, the rest of a long cell continues on the next line.
fn row(fields: [&str; 3], out: &mut String) {
    let mut left: Vec<Vec<char>> = fields.iter().map(|f| f.chars().collect()).collect();
    while left.iter().any(|f| !f.is_empty()) {
        let mut line = String::new();
        for col in 0..3 {
            let start = if col == 0 { 0 } else { POSITIONS[col - 1] };
            let space = if col == 2 { 0 } else { 2 };
            let cutoff = (POSITIONS[col] - start - space).min(left[col].len());
            if col == 0 {
                line.push(' ');
            }
            line.extend(left[col].drain(..cutoff));
            line.push_str(&" ".repeat(space));
            let len = line.chars().count();
            line.push_str(&" ".repeat(POSITIONS[col].saturating_sub(len)));
        }
        out.push_str(&line);
        out.push('\n');
    }
}

/// 333526 -> "333,526".
pub fn with_commas(n: usize) -> String {
    let digits = n.to_string();
    let mut out = String::new();
    for (i, d) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i).is_multiple_of(3) {
            out.push(',');
        }
        out.push(d);
    }
    out
}

impl Sequential {
    /// The Keras summary table.
    pub fn summary(&self) -> String {
        let mut out = format!("Model: \"{}\"\n", self.name);
        out.push_str(&"_".repeat(LINE));
        out.push('\n');
        row(["Layer (type)", "Output Shape", "Param #"], &mut out);
        out.push_str(&"=".repeat(LINE));
        out.push('\n');
        for entry in self.layers() {
            let name = format!("{} ({})", entry.name, entry.layer.kind());
            let params = entry.count_params().to_string();
            row(
                [&name, &keras_shape(&entry.output_shape), &params],
                &mut out,
            );
            out.push_str(&" ".repeat(LINE));
            out.push('\n');
        }
        out.push_str(&"=".repeat(LINE));
        out.push('\n');
        let total = self.count_params();
        out.push_str(&format!("Total params: {}\n", with_commas(total)));
        out.push_str(&format!("Trainable params: {}\n", with_commas(total)));
        out.push_str("Non-trainable params: 0\n");
        out.push_str(&"_".repeat(LINE));
        out.push('\n');
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn commas() {
        assert_eq!(with_commas(0), "0");
        assert_eq!(with_commas(999), "999");
        assert_eq!(with_commas(1_010), "1,010");
        assert_eq!(with_commas(333_526), "333,526");
        assert_eq!(with_commas(1_234_567), "1,234,567");
    }
}
