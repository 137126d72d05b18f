//! The `revkeen-mock` binary: parses the command line and hands over to the library.

use std::process::ExitCode;

use clap::Parser;
use revkeen_mock::cli::{Cli, Command, check_spec};

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
        Some(Command::Serve(_)) | None => {
            eprintln!("serve is not built yet");
            ExitCode::from(2)
        }
        Some(Command::Conform(_)) => {
            eprintln!("conform is not built yet");
            ExitCode::from(2)
        }
    }
}
