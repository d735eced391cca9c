//! Thin entry: parse arguments, build the runtime, run, map the result to an exit code.

use std::process::ExitCode;

fn main() -> ExitCode {
    let cli = <pinshare_dev::cli::Cli as clap::Parser>::parse();
    pinshare_dev::cli::init_tracing(cli.verbose);
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("error: starting the async runtime: {e}");
            return ExitCode::from(1);
        }
    };
    let code = runtime.block_on(pinshare_dev::cli::run(cli));
    // Log followers may still be parked on the engine socket; do not wait for them.
    runtime.shutdown_timeout(std::time::Duration::from_millis(100));
    ExitCode::from(code)
}
