//! `lotse-relay`: see the library's documentation (`lib.rs`) and `cli`.

fn main() -> std::process::ExitCode {
    lotse_relay::cli::main()
}
