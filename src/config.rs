//! Start-up configuration, parsed once from the environment and the command line.
//!
//! `daiban [--data DIR] [--centre URL] [--enrol-code-file FILE] [--preview [ADDR]]`
//! Environment: `DAIBAN_DATA`, `DAIBAN_CENTRE`, `DAIBAN_PREVIEW` (an address), `DAIBAN_TEST_PHOTOS`
//! (a folder of sample photos offered on the capture screen, for demos and browser tests,
//! where the preview cannot receive file uploads).

use anyhow::{bail, Context};
use std::net::SocketAddr;
use std::path::PathBuf;

#[derive(Clone, Debug)]
pub struct Config {
    pub data_dir: PathBuf,
    /// The township centre to enrol with (pre-filled on the enrolment screen).
    pub centre_url: Option<String>,
    /// A file holding a one-time enrolment code to use automatically (the demo).
    pub enrol_code_file: Option<PathBuf>,
    /// Force the browser preview even when a display is available.
    pub force_preview: bool,
    pub preview_addr: SocketAddr,
    pub sample_photos: Option<PathBuf>,
}

pub const DEFAULT_PREVIEW: &str = "127.0.0.1:8090";

impl Config {
    pub fn from_env_and_args(args: impl IntoIterator<Item = String>) -> anyhow::Result<Self> {
        let env = |k: &str| std::env::var(k).ok().filter(|v| !v.is_empty());
        let mut cfg = Config {
            data_dir: env("DAIBAN_DATA").map(PathBuf::from).unwrap_or_else(crate::platform::default_data_dir),
            centre_url: env("DAIBAN_CENTRE"),
            enrol_code_file: None,
            force_preview: env("DAIBAN_PREVIEW").is_some(),
            preview_addr: env("DAIBAN_PREVIEW").unwrap_or_else(|| DEFAULT_PREVIEW.into()).parse().context("DAIBAN_PREVIEW")?,
            sample_photos: env("DAIBAN_TEST_PHOTOS").map(PathBuf::from),
        };
        let mut args = args.into_iter().peekable();
        while let Some(a) = args.next() {
            let mut value = |name: &str| args.next().with_context(|| format!("{name} needs a value"));
            match a.as_str() {
                "--data" => cfg.data_dir = value("--data")?.into(),
                "--centre" => cfg.centre_url = Some(value("--centre")?),
                "--enrol-code-file" => cfg.enrol_code_file = Some(value("--enrol-code-file")?.into()),
                "--sample-photos" => cfg.sample_photos = Some(value("--sample-photos")?.into()),
                "--preview" => {
                    cfg.force_preview = true;
                    if let Some(addr) = args.next_if(|v| !v.starts_with("--")) {
                        cfg.preview_addr = addr.parse().context("--preview address")?;
                    }
                }
                "-h" | "--help" => {
                    println!("usage: daiban [--data DIR] [--centre URL] [--enrol-code-file FILE] [--sample-photos DIR] [--preview [ADDR]]");
                    std::process::exit(0);
                }
                other => bail!("unknown argument {other} (try --help)"),
            }
        }
        Ok(cfg)
    }

    /// A native window when built with it and a display is there; otherwise the preview.
    pub fn wants_desktop(&self) -> bool {
        cfg!(feature = "desktop")
            && !self.force_preview
            && (std::env::var_os("DISPLAY").is_some() || std::env::var_os("WAYLAND_DISPLAY").is_some())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_arguments() {
        let c = Config::from_env_and_args(
            ["--data", "/tmp/x", "--centre", "http://127.0.0.1:8080", "--preview", "127.0.0.1:9999"].map(String::from),
        )
        .unwrap();
        assert_eq!(c.data_dir, PathBuf::from("/tmp/x"));
        assert_eq!(c.centre_url.as_deref(), Some("http://127.0.0.1:8080"));
        assert!(c.force_preview && !c.wants_desktop());
        assert_eq!(c.preview_addr.port(), 9999);
        assert!(Config::from_env_and_args(["--bogus".to_string()]).is_err());
        assert!(Config::from_env_and_args(["--data".to_string()]).is_err());
    }
}
