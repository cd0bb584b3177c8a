//! Bounded reads, and writes that never leave a secret readable by others:
//! new files are created with mode 0600, and rewritten files are replaced
//! atomically (a 0600 temporary file beside them, then a rename).

use std::fs::{self, File, OpenOptions};
use std::io::{self, ErrorKind, IsTerminal as _, Read, Write};
#[cfg(unix)]
use std::os::unix::fs::OpenOptionsExt as _;
use std::path::{Path, PathBuf};
use std::sync::mpsc;
use std::time::Duration;

use zeroize::Zeroizing;

use crate::exit::{Exit, Failure};

/// The most a token, claims document, key or footer read may hold.
pub(crate) const MAX_INPUT_LEN: usize = 1024 * 1024;

/// Where text comes from: a file, or standard input (`-`).
pub(crate) fn read_text(
    path: &Path,
    max_len: usize,
    what: &str,
) -> Result<Zeroizing<String>, Failure> {
    if path == Path::new("-") {
        return read_bounded(io::stdin().lock(), max_len, what, "standard input");
    }
    let file = File::open(path).map_err(|error| open_failure(&error, what, path))?;
    read_bounded(file, max_len, what, &path.display().to_string())
}

/// Reads standard input, at most `max_len` bytes.
pub(crate) fn read_stdin(max_len: usize, what: &str) -> Result<Zeroizing<String>, Failure> {
    read_bounded(io::stdin().lock(), max_len, what, "standard input")
}

/// What standard input held when no flag asked to read it.
#[derive(Debug)]
pub(crate) enum Unread {
    /// A terminal (not read: nobody typed into it), or input that ended at
    /// once with nothing but white space (`< /dev/null`, an empty pipe).
    Nothing,
    /// Something other than white space, or more than [`MAX_INPUT_LEN`] bytes.
    Data,
    /// A pipe or socket that did not end within the wait.
    StillOpen,
    /// Reading it failed.
    Unreadable(io::Error),
}

/// Looks at standard input that no flag asked to read: a terminal is left
/// alone; anything else is read, at most one byte more than
/// [`MAX_INPUT_LEN`], for at most `wait` (never a hang on a pipe a parent
/// keeps open).
pub(crate) fn unread_stdin(wait: Duration) -> Unread {
    if io::stdin().is_terminal() {
        return Unread::Nothing;
    }
    unread(io::stdin(), wait)
}

/// [`unread_stdin`] on any reader. The reading thread is left blocked when
/// the input stays open; the command then fails, and the process ends.
fn unread(reader: impl Read + Send + 'static, wait: Duration) -> Unread {
    let (sender, receiver) = mpsc::channel();
    std::thread::spawn(move || {
        let mut bytes = Zeroizing::new(Vec::new());
        let limit = u64::try_from(MAX_INPUT_LEN)
            .unwrap_or(u64::MAX)
            .saturating_add(1);
        let read = reader.take(limit).read_to_end(&mut bytes);
        let _ =
            sender.send(read.map(|_| {
                bytes.len() <= MAX_INPUT_LEN && bytes.iter().all(u8::is_ascii_whitespace)
            }));
    });
    match receiver.recv_timeout(wait) {
        Ok(Ok(true)) => Unread::Nothing,
        Ok(Ok(false)) => Unread::Data,
        Ok(Err(error)) => Unread::Unreadable(error),
        Err(_) => Unread::StillOpen,
    }
}

fn read_bounded(
    reader: impl Read,
    max_len: usize,
    what: &str,
    source: &str,
) -> Result<Zeroizing<String>, Failure> {
    let mut bytes = Zeroizing::new(Vec::new());
    let limit = u64::try_from(max_len).unwrap_or(u64::MAX).saturating_add(1);
    reader
        .take(limit)
        .read_to_end(&mut bytes)
        .map_err(|error| {
            Failure::new(Exit::Io, format!("reading {what} from {source}: {error}"))
        })?;
    if bytes.len() > max_len {
        return Err(Failure::usage(format!(
            "{what} from {source} is longer than {max_len} bytes"
        )));
    }
    let text = std::str::from_utf8(&bytes)
        .map_err(|_| Failure::usage(format!("{what} from {source} is not UTF-8 text")))?;
    Ok(Zeroizing::new(text.to_owned()))
}

fn open_failure(error: &io::Error, what: &str, path: &Path) -> Failure {
    let exit = match error.kind() {
        ErrorKind::NotFound => Exit::NoInput,
        _ => Exit::Io,
    };
    Failure::new(exit, format!("opening {what} {}: {error}", path.display()))
}

/// Creates `path` with mode 0600 and writes `text`; an existing file is an
/// error unless `force`, and then it is replaced atomically.
pub(crate) fn write_secret_file(path: &Path, text: &str, force: bool) -> Result<(), Failure> {
    if force {
        return replace_atomically(path, text);
    }
    let mut file = create_new_private(path).map_err(|error| {
        if error.kind() == ErrorKind::AlreadyExists {
            Failure::usage(format!(
                "{} exists: refusing to overwrite it (use --force)",
                path.display()
            ))
        } else {
            write_failure(&error, path)
        }
    })?;
    file.write_all(text.as_bytes())
        .and_then(|()| file.sync_all())
        .map_err(|error| write_failure(&error, path))
}

/// Writes `text` to a 0600 temporary file beside `path`, then renames it over
/// `path`: readers see the old file or the new one, never half of one.
pub(crate) fn replace_atomically(path: &Path, text: &str) -> Result<(), Failure> {
    let temporary = temporary_beside(path);
    let written = create_new_private(&temporary).and_then(|mut file| {
        file.write_all(text.as_bytes())?;
        file.sync_all()
    });
    let renamed = written.and_then(|()| fs::rename(&temporary, path));
    renamed.map_err(|error| {
        let _ = fs::remove_file(&temporary);
        write_failure(&error, path)
    })
}

fn temporary_beside(path: &Path) -> PathBuf {
    let name = path
        .file_name()
        .map(|name| name.to_string_lossy().into_owned())
        .unwrap_or_default();
    path.with_file_name(format!(".{name}.{}.tmp", std::process::id()))
}

fn create_new_private(path: &Path) -> io::Result<File> {
    let mut options = OpenOptions::new();
    options.write(true).create_new(true);
    #[cfg(unix)]
    options.mode(0o600);
    options.open(path)
}

/// Any failure to write is an I/O error (74), a missing directory included:
/// "input not found" (66) is for inputs.
fn write_failure(error: &io::Error, path: &Path) -> Failure {
    Failure::new(Exit::Io, format!("writing {}: {error}", path.display()))
}

/// Writes a public file (a public key, an id): plain permissions, but still
/// no silent overwrite.
pub(crate) fn write_public_file(path: &Path, text: &str, force: bool) -> Result<(), Failure> {
    if !force && path.exists() {
        return Err(Failure::usage(format!(
            "{} exists: refusing to overwrite it (use --force)",
            path.display()
        )));
    }
    fs::write(path, text).map_err(|error| write_failure(&error, path))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_are_bounded() {
        let text = read_bounded(&b"abcd"[..], 4, "x", "test").unwrap();
        assert_eq!(text.as_str(), "abcd");
        let err = read_bounded(&b"abcde"[..], 4, "x", "test").unwrap_err();
        assert_eq!(err.exit, Exit::Usage);
        let err = read_bounded(&[0xff_u8, 0xfe][..], 4, "x", "test").unwrap_err();
        assert_eq!(err.exit, Exit::Usage);
    }

    #[test]
    fn unread_input_is_told_apart_nothing_data_open_unreadable() {
        let wait = Duration::from_secs(5);
        assert!(matches!(unread(&b""[..], wait), Unread::Nothing));
        assert!(matches!(unread(&b" \r\n\t"[..], wait), Unread::Nothing));
        assert!(matches!(unread(&b"\n{}\n"[..], wait), Unread::Data));
        // White space up to the bound is nothing; beyond it, data.
        let blank = vec![b' '; MAX_INPUT_LEN];
        assert!(matches!(
            unread(io::Cursor::new(blank), wait),
            Unread::Nothing
        ));
        let long = vec![b' '; MAX_INPUT_LEN + 1];
        assert!(matches!(unread(io::Cursor::new(long), wait), Unread::Data));
        // A pipe whose writer stays open is not waited for beyond `wait`.
        let (reader, writer) = io::pipe().unwrap();
        let started = std::time::Instant::now();
        let open = unread(reader, Duration::from_millis(200));
        assert!(matches!(open, Unread::StillOpen), "{open:?}");
        assert!(started.elapsed() < Duration::from_secs(4));
        drop(writer);
        struct Failing;
        impl Read for Failing {
            fn read(&mut self, _: &mut [u8]) -> io::Result<usize> {
                Err(io::Error::other("broken"))
            }
        }
        assert!(matches!(unread(Failing, wait), Unread::Unreadable(_)));
    }

    #[test]
    fn a_missing_file_is_no_input() {
        let err = read_text(Path::new("/nonexistent/vaulttoken/file"), 10, "key").unwrap_err();
        assert_eq!(err.exit, Exit::NoInput);
    }
}
