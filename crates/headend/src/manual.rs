//! The manual page and shell completions, generated from the clap
//! definitions of the command line so they cannot drift from it
//! (`headend man`, `headend completions SHELL`; the Debian package ships both).

use std::path::Path;
use std::process::ExitCode;

/// `headend completions SHELL`: the completion script on stdout.
pub(crate) fn completions(mut cmd: clap::Command, shell: clap_complete::Shell) -> ExitCode {
    let name = cmd.get_name().to_owned();
    let mut out = Vec::new();
    clap_complete::generate(shell, &mut cmd, name, &mut out);
    write_stdout(&out)
}

/// `headend man [--dir DIR]`: the top page on stdout, or every page
/// (`headend.1`, `headend-serve.1`, ...) written into `dir`.
pub(crate) fn man(cmd: clap::Command, dir: Option<&Path>) -> ExitCode {
    let cmd = cmd.disable_help_subcommand(true);
    match dir {
        Some(dir) => {
            if let Err(e) =
                std::fs::create_dir_all(dir).and_then(|()| clap_mangen::generate_to(cmd, dir))
            {
                eprintln!(
                    "error: cannot write the manual pages into {}: {e}",
                    dir.display()
                );
                return ExitCode::FAILURE;
            }
            ExitCode::SUCCESS
        }
        None => {
            let mut out = Vec::new();
            if let Err(e) = clap_mangen::Man::new(cmd).render(&mut out) {
                eprintln!("error: cannot render the manual page: {e}");
                return ExitCode::FAILURE;
            }
            write_stdout(&out)
        }
    }
}

fn write_stdout(bytes: &[u8]) -> ExitCode {
    use std::io::Write as _;
    let mut stdout = std::io::stdout().lock();
    match stdout.write_all(bytes).and_then(|()| stdout.flush()) {
        Ok(()) => ExitCode::SUCCESS,
        // A closed pipe (`| head`) is not an error worth a message.
        Err(e) if e.kind() == std::io::ErrorKind::BrokenPipe => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: cannot write to stdout: {e}");
            ExitCode::FAILURE
        }
    }
}

#[cfg(test)]
mod tests {
    use clap::CommandFactory as _;

    #[test]
    fn man_page_names_every_subcommand() {
        let mut out = Vec::new();
        clap_mangen::Man::new(crate::Cli::command())
            .render(&mut out)
            .unwrap();
        let page = String::from_utf8(out).unwrap();
        assert!(page.starts_with(".ie"), "{page}");
        for sub in ["serve", "check", "leases", "ctl", "completions", "man"] {
            assert!(page.contains(sub), "no {sub} in the page");
        }
    }

    #[test]
    fn generated_pages_cover_nested_subcommands() {
        let dir = tempfile::tempdir().unwrap();
        clap_mangen::generate_to(crate::Cli::command(), dir.path()).unwrap();
        for page in ["headend.1", "headend-serve.1", "headend-ctl.1"] {
            assert!(dir.path().join(page).is_file(), "no {page}");
        }
    }

    #[test]
    fn bash_completion_offers_the_subcommands() {
        let mut cmd = crate::Cli::command();
        let mut out = Vec::new();
        clap_complete::generate(clap_complete::Shell::Bash, &mut cmd, "headend", &mut out);
        let script = String::from_utf8(out).unwrap();
        assert!(script.contains("complete -F _headend"), "{script}");
        assert!(script.contains("serve"), "{script}");
    }
}
