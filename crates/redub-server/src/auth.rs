//! The API token: off loopback every call needs it. Made on first start from the kernel's
//! random source, printed once, kept in `studio/token` readable by its owner only.

use redub_core::{Error, Result};
use std::io::{Read, Write};
use std::path::Path;

/// The token in `home/token`, made if there is none.
pub fn load_or_create(home: &Path) -> Result<String> {
    let path = home.join("token");
    if let Ok(t) = std::fs::read_to_string(&path) {
        let t = t.trim().to_string();
        if t.len() >= 32 {
            return Ok(t);
        }
    }
    let token = random_hex(24)?;
    let mut opts = std::fs::OpenOptions::new();
    opts.write(true).create(true).truncate(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        opts.mode(0o600);
    }
    let mut f = opts.open(&path).map_err(|e| Error::io(&path, e))?;
    f.write_all(token.as_bytes()).map_err(|e| Error::io(&path, e))?;
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o600)).map_err(|e| Error::io(&path, e))?;
    }
    eprintln!("studio: API token (shown once; also in {}): {token}", path.display());
    Ok(token)
}

/// `bytes` bytes from the kernel's random source, as hex (tokens, job ids).
pub fn random_hex(bytes: usize) -> Result<String> {
    let mut b = vec![0u8; bytes];
    std::fs::File::open("/dev/urandom")
        .and_then(|mut f| f.read_exact(&mut b))
        .map_err(|e| Error::io(Path::new("/dev/urandom"), e))?;
    Ok(hex::encode(b))
}

/// Whether `given` is the token, compared in constant time so timing tells nothing.
pub fn matches(token: &str, given: &str) -> bool {
    let (a, b) = (token.as_bytes(), given.as_bytes());
    if a.len() != b.len() {
        return false;
    }
    a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_token_is_made_once_and_kept_private() {
        let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
        let t = load_or_create(dir.path()).unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(t.len(), 48);
        assert_eq!(load_or_create(dir.path()).unwrap_or_default(), t, "the same token on the next start");
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            let mode = std::fs::metadata(dir.path().join("token")).map(|m| m.permissions().mode()).unwrap_or(0);
            assert_eq!(mode & 0o777, 0o600);
        }
        assert!(matches(&t, &t) && !matches(&t, "nope") && !matches(&t, &t[1..]));
    }
}
