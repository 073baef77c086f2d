//! `fuzz-seeds <dir>`: writes every target's seeds (see `lf_fuzz::seeds`) to `<dir>/<target>/`,
//! the starting corpus of `tests/fuzz/run`.

use std::path::PathBuf;
use std::process::ExitCode;

fn main() -> ExitCode {
    let Some(dir) = std::env::args_os().nth(1).map(PathBuf::from) else {
        eprintln!("usage: fuzz-seeds <dir>");
        return ExitCode::from(2);
    };
    for (target, _) in lf_fuzz::TARGETS {
        let out = dir.join(target);
        let written = lf_fuzz::seeds(target).and_then(|seeds| {
            std::fs::create_dir_all(&out)?;
            for (name, data) in &seeds {
                std::fs::write(out.join(name), data)?;
            }
            Ok(seeds.len())
        });
        match written {
            Ok(n) => println!("{target}: {n} seeds in {}", out.display()),
            Err(e) => {
                eprintln!("{target}: {e}");
                return ExitCode::FAILURE;
            }
        }
    }
    ExitCode::SUCCESS
}
