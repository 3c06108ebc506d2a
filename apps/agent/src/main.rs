fn main() -> std::process::ExitCode {
    pganalytics_agent::main_with(std::env::args_os())
}
