//! convlab-cli library: the drawing code behind the `convlab` command.

pub mod draw;
