//! The `clh` command: everything is in the library (`clh_cli::run`), which the Python
//! wheel's `clh` entry point calls too.

fn main() {
    let code = clh_cli::run(std::env::args_os().collect());
    std::process::exit(code);
}
