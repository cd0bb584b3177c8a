//! The key set's URL: configured, checked once at build. `https`, except
//! plain `http` to a loopback host (a sidecar or a test), and no
//! credentials (the URL is printed in logs and `Debug`).

use std::net::IpAddr;

use reqwest::Url;

use crate::error::BuildError;

/// `url`, parsed and checked.
pub(crate) fn checked(url: &str) -> Result<Url, BuildError> {
    let url = Url::parse(url).map_err(|_| BuildError::InvalidUrl)?;
    if !url.username().is_empty() || url.password().is_some() {
        return Err(BuildError::CredentialsInUrl);
    }
    match url.scheme() {
        "https" => Ok(url),
        "http" if is_loopback(&url) => Ok(url),
        "http" => Err(BuildError::InsecureUrl),
        _ => Err(BuildError::InvalidUrl),
    }
}

/// Whether the URL's host is this machine: `localhost`, 127.0.0.0/8 or ::1.
fn is_loopback(url: &Url) -> bool {
    match url.host() {
        Some(url::Host::Domain(name)) => name.eq_ignore_ascii_case("localhost"),
        Some(url::Host::Ipv4(ip)) => IpAddr::V4(ip).is_loopback(),
        Some(url::Host::Ipv6(ip)) => IpAddr::V6(ip).is_loopback(),
        None => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn https_anywhere_http_only_on_loopback() {
        for good in [
            "https://auth.example/keys",
            "https://10.0.0.1/keys",
            "http://127.0.0.1:8080/keys",
            "http://127.9.9.9/keys",
            "http://[::1]:9/keys",
            "http://localhost/keys",
            "http://LOCALHOST:1/keys",
        ] {
            assert!(checked(good).is_ok(), "{good}");
        }
        for insecure in [
            "http://auth.example/keys",
            "http://10.0.0.1/keys",
            "http://128.0.0.1/keys",
            "http://[::2]/keys",
            "http://localhost.example/keys",
            "http://[::ffff:127.0.0.1]/keys",
        ] {
            assert!(
                matches!(checked(insecure), Err(BuildError::InsecureUrl)),
                "{insecure}"
            );
        }
        for invalid in ["not a url", "ftp://127.0.0.1/keys", "file:///etc/keys"] {
            assert!(
                matches!(checked(invalid), Err(BuildError::InvalidUrl)),
                "{invalid}"
            );
        }
        for with_credentials in ["https://user@auth.example/", "https://:pw@auth.example/"] {
            assert!(
                matches!(checked(with_credentials), Err(BuildError::CredentialsInUrl)),
                "{with_credentials}"
            );
        }
    }
}
