//! What a failure below HTTP (connecting, sending, reading) is: the sorting every backend did
//! the same way. The words stay with each backend, which knows what its user should do.

use std::io;

/// The kind of a `ureq` failure that came before any HTTP status.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Transport {
    /// No complete reply within the timeout.
    Timeout,
    /// The connection broke part-way (reset, aborted, cut short): worth another try. Holds
    /// "the connection was dropped (…)".
    Dropped(String),
    /// Nothing to talk to. Holds why: "nothing is listening there", "its host name does not
    /// resolve", "cannot connect (…)".
    Unreachable(String),
    /// The other side does not speak HTTP; holds the protocol error.
    NotHttp(String),
    /// The reply is larger than this many bytes.
    TooLarge(u64),
    /// TLS, certificates.
    Tls,
    /// Anything else.
    Other,
}

/// Sort `e`. `scrub` cleans text that may carry a key or a URL with credentials before it is
/// put into a phrase.
pub fn classify(e: &ureq::Error, scrub: impl Fn(&str) -> String) -> Transport {
    match e {
        ureq::Error::Timeout(_) => Transport::Timeout,
        ureq::Error::Io(io) => match io.kind() {
            io::ErrorKind::TimedOut | io::ErrorKind::WouldBlock => Transport::Timeout,
            io::ErrorKind::ConnectionRefused => Transport::Unreachable("nothing is listening there".to_string()),
            io::ErrorKind::ConnectionReset
            | io::ErrorKind::ConnectionAborted
            | io::ErrorKind::BrokenPipe
            | io::ErrorKind::UnexpectedEof
            | io::ErrorKind::Interrupted => {
                Transport::Dropped(format!("the connection was dropped ({})", scrub(&io.to_string())))
            }
            // std reports resolver failures as an uncategorized error with this text.
            _ if io.to_string().contains("lookup address") => {
                Transport::Unreachable(format!("its host name does not resolve ({io})"))
            }
            _ => Transport::Unreachable(format!("cannot connect ({})", scrub(&io.to_string()))),
        },
        ureq::Error::HostNotFound => Transport::Unreachable("its host name does not resolve".to_string()),
        ureq::Error::ConnectionFailed => Transport::Unreachable("cannot connect".to_string()),
        ureq::Error::Protocol(p) => Transport::NotHttp(p.to_string()),
        ureq::Error::BodyExceedsLimit(limit) => Transport::TooLarge(*limit),
        ureq::Error::Tls(_) | ureq::Error::Rustls(_) | ureq::Error::Pem(_) => Transport::Tls,
        _ => Transport::Other,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn io_failures_are_sorted_and_scrubbed() {
        let scrub = |t: &str| t.replace("sk-secret", "<api key>");
        let io = |kind, text: &str| ureq::Error::Io(io::Error::new(kind, text.to_string()));
        assert_eq!(classify(&io(io::ErrorKind::TimedOut, "t"), scrub), Transport::Timeout);
        assert_eq!(
            classify(&io(io::ErrorKind::ConnectionRefused, "r"), scrub),
            Transport::Unreachable("nothing is listening there".into())
        );
        assert_eq!(
            classify(&io(io::ErrorKind::ConnectionReset, "reset by sk-secret"), scrub),
            Transport::Dropped("the connection was dropped (reset by <api key>)".into())
        );
        assert_eq!(
            classify(&io(io::ErrorKind::Other, "failed to lookup address information"), scrub),
            Transport::Unreachable("its host name does not resolve (failed to lookup address information)".into())
        );
        assert_eq!(
            classify(&io(io::ErrorKind::PermissionDenied, "no sk-secret"), scrub),
            Transport::Unreachable("cannot connect (no <api key>)".into())
        );
        assert_eq!(classify(&ureq::Error::BodyExceedsLimit(9), scrub), Transport::TooLarge(9));
        assert_eq!(
            classify(&ureq::Error::HostNotFound, scrub),
            Transport::Unreachable("its host name does not resolve".into())
        );
    }
}
