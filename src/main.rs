//! The `revkeen-mock` binary: parses the command line and hands over to the library.

use std::process::ExitCode;

use clap::Parser;
use revkeen_mock::cli::{
    Cli, Command, check_spec, run_capture, run_conform, run_coverage, run_health, run_serve,
};

/// mimalloc instead of glibc's allocator: a request body of 500 mappings is parsed into
/// a few thousand small allocations, which glibc's malloc (its bins consolidated on
/// every large allocation) made a third of the request's cost; see docs/performance.md.
/// Through `revkeen_mock::alloc`, which reaches mimalloc's fast path (src/alloc.rs).
#[global_allocator]
static ALLOCATOR: revkeen_mock::alloc::Allocator = revkeen_mock::alloc::Allocator;

/// Start-up's temporaries (the parsed contracts, their typed model, what building the
/// validators needs on the way) are freed before the server listens, but mimalloc keeps
/// their pages for reuse, spread over the heaps of the threads that compiled: about
/// 2.7 MB of an idle server's 22 MB. One forced collection gives them back
/// (docs/performance.md).
fn release_start_up_memory() {
    // SAFETY: `mi_collect` takes no pointer and may be called from any thread at any
    // time; it only frees pages that hold no live allocation.
    unsafe { libmimalloc_sys::mi_collect(true) }
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    match cli.command {
        Some(Command::CheckSpec(args)) => {
            let outcome = check_spec(args.path.as_deref());
            if outcome.exit_code == 2 {
                eprint!("{}", outcome.report);
            } else {
                print!("{}", outcome.report);
            }
            ExitCode::from(outcome.exit_code)
        }
        Some(Command::Serve(args)) => serve(&args),
        None => serve(&cli.serve),
        Some(Command::Health(args)) => match run_health(&args) {
            Ok(line) => {
                println!("healthy: {line}");
                ExitCode::SUCCESS
            }
            Err(message) => {
                eprintln!("unhealthy: {message}");
                ExitCode::from(1)
            }
        },
        Some(Command::Coverage(args)) => match run_coverage(&args) {
            Ok(outcome) => {
                print!("{}", outcome.output);
                ExitCode::from(u8::from(!outcome.passed))
            }
            Err(message) => {
                eprintln!("error: {message}");
                ExitCode::from(2)
            }
        },
        Some(Command::Capture(args)) => match run_capture(&args) {
            Ok(true) => ExitCode::SUCCESS,
            Ok(false) => ExitCode::from(1),
            Err(message) => {
                eprintln!("error: {message}");
                ExitCode::from(2)
            }
        },
        Some(Command::Conform(args)) => match run_conform(&args) {
            Ok(true) => ExitCode::SUCCESS,
            Ok(false) => ExitCode::from(1),
            Err(message) => {
                eprintln!("error: {message}");
                ExitCode::from(2)
            }
        },
    }
}

fn serve(args: &revkeen_mock::cli::ServeArgs) -> ExitCode {
    match run_serve(args, release_start_up_memory) {
        Ok(()) => ExitCode::SUCCESS,
        Err(message) => {
            eprintln!("error: {message}");
            ExitCode::from(2)
        }
    }
}
