//! The end user's context in a request body, and the [`Binding`] it gives
//! under the configured mode.
//!
//! The server's callers are backends acting for an end user, so the context
//! to bind to (the user's address, user agent, device) cannot come from the
//! connection: the backend passes it as `"context": {"ip": …, "user_agent":
//! …, "device": …}`. Every member is optional; unknown members are refused.

use std::net::IpAddr;

use serde::Deserialize;
use serde_json::{Map, Value};
use vaulttoken::binding::{Binding, Drift, IpPrefix, Observer};
use vaulttoken::{Claims, Error};

use crate::config::{BindingConfig, BindingMode};
use crate::oauth_error::OAuthError;

/// The longest `context.ip` read, in bytes (an IPv6 address with a zone is
/// shorter).
const MAX_IP_LEN: usize = 64;
/// The longest `context.user_agent`, in bytes.
pub(crate) const MAX_USER_AGENT_LEN: usize = 512;
/// The longest `context.device`, in bytes.
pub(crate) const MAX_DEVICE_LEN: usize = 128;

/// The `context` member of a request body, as sent: a JSON object (never an
/// array, which serde would otherwise take for a struct) of strings, with no
/// other members.
#[derive(Deserialize, Default)]
#[serde(try_from = "Map<String, Value>")]
pub(crate) struct ContextBody {
    ip: Option<String>,
    user_agent: Option<String>,
    device: Option<String>,
}

impl TryFrom<Map<String, Value>> for ContextBody {
    type Error = &'static str;

    fn try_from(members: Map<String, Value>) -> Result<Self, Self::Error> {
        let mut body = Self::default();
        for (name, value) in members {
            let slot = match name.as_str() {
                "ip" => &mut body.ip,
                "user_agent" => &mut body.user_agent,
                "device" => &mut body.device,
                _ => return Err("unknown context member"),
            };
            match value {
                Value::String(text) => *slot = Some(text),
                _ => return Err("context members are strings"),
            }
        }
        Ok(body)
    }
}

/// A checked context: an address and two short printable strings.
struct Context {
    ip: Option<IpAddr>,
    user_agent: Option<String>,
    device: Option<String>,
}

impl ContextBody {
    fn check(&self) -> Result<Context, OAuthError> {
        let ip = match &self.ip {
            None => None,
            Some(text) if text.len() > MAX_IP_LEN => {
                return Err(OAuthError::invalid_request(
                    "context.ip is not an IP address",
                ));
            }
            Some(text) => Some(
                text.parse::<IpAddr>()
                    .map_err(|_| OAuthError::invalid_request("context.ip is not an IP address"))?,
            ),
        };
        let user_agent = text(
            self.user_agent.as_deref(),
            MAX_USER_AGENT_LEN,
            "context.user_agent must be 1 to 512 bytes, no control characters",
        )?;
        let device = text(
            self.device.as_deref(),
            MAX_DEVICE_LEN,
            "context.device must be 1 to 128 bytes, no control characters",
        )?;
        Ok(Context {
            ip,
            user_agent,
            device,
        })
    }
}

fn text(
    value: Option<&str>,
    max_len: usize,
    problem: &'static str,
) -> Result<Option<String>, OAuthError> {
    match value {
        None => Ok(None),
        Some(value)
            if value.is_empty() || value.len() > max_len || value.chars().any(char::is_control) =>
        {
            Err(OAuthError::invalid_request(problem))
        }
        Some(value) => Ok(Some(value.to_owned())),
    }
}

/// The implicit assertion of an access token bound to `binding` under
/// `mode`: the binding's under `strict`, else empty, so that with binding off
/// or observed a resource server verifies access tokens as unbound ones.
pub(crate) fn assertion(mode: BindingMode, binding: Option<&Binding>) -> Result<Vec<u8>, Error> {
    match (mode, binding) {
        (BindingMode::Strict, Some(binding)) => {
            Ok(binding.implicit_assertion()?.as_bytes().to_vec())
        }
        _ => Ok(Vec::new()),
    }
}

/// The binding settings every handler shares.
#[derive(Debug)]
pub(crate) struct ContextBinding {
    mode: BindingMode,
    ip_prefix: IpPrefix,
    observer: Option<Observer>,
}

impl ContextBinding {
    pub(crate) fn new(config: BindingConfig) -> Self {
        Self {
            mode: config.mode,
            ip_prefix: config.ip_prefix,
            observer: config.observer,
        }
    }

    /// The binding mode.
    pub(crate) fn mode(&self) -> BindingMode {
        self.mode
    }

    /// The observer refresh families record observed values with.
    pub(crate) fn observer(&self) -> Option<&Observer> {
        self.observer.as_ref()
    }

    /// The binding of a request's `context`, checked whatever the mode:
    /// `None` when binding is off; under `observe`, the values observed (none
    /// if there is no context); under `strict`, the values strictly, and at
    /// least one is required.
    ///
    /// # Errors
    ///
    /// `invalid_request` for a malformed context, or a missing or empty one
    /// under `strict`.
    pub(crate) fn of(&self, body: Option<&ContextBody>) -> Result<Option<Binding>, OAuthError> {
        let context = body.map(ContextBody::check).transpose()?;
        match self.mode {
            BindingMode::Off => Ok(None),
            BindingMode::Observe => {
                let mut binding = Binding::new();
                if let Some(context) = context {
                    if let Some(ip) = context.ip {
                        binding = binding.observe_ip("ip", ip, self.ip_prefix);
                    }
                    if let Some(agent) = context.user_agent {
                        binding = binding.observe("user_agent", agent);
                    }
                    if let Some(device) = context.device {
                        binding = binding.observe("device", device);
                    }
                }
                Ok(Some(binding))
            }
            BindingMode::Strict => {
                let context = context
                    .filter(|c| c.ip.is_some() || c.user_agent.is_some() || c.device.is_some())
                    .ok_or_else(|| {
                        OAuthError::invalid_request(
                            "binding is strict: context must hold ip, user_agent or device",
                        )
                    })?;
                let mut binding = Binding::new();
                if let Some(ip) = context.ip {
                    binding = binding.strict_ip("ip", ip, self.ip_prefix);
                }
                if let Some(agent) = context.user_agent {
                    binding = binding.strict("user_agent", agent);
                }
                if let Some(device) = context.device {
                    binding = binding.strict("device", device);
                }
                Ok(Some(binding))
            }
        }
    }

    /// The implicit assertion of an access token bound to `binding` (see
    /// [`assertion`]).
    pub(crate) fn assertion(&self, binding: Option<&Binding>) -> Result<Vec<u8>, Error> {
        assertion(self.mode, binding)
    }

    /// What drifted between a verified token's claims and `binding`
    /// (reported as `binding_drift` audit events too); empty unless
    /// observing.
    pub(crate) fn drift(
        &self,
        claims: &Claims,
        binding: Option<&Binding>,
    ) -> Result<Vec<Drift>, Error> {
        match (&self.observer, binding) {
            (Some(observer), Some(binding)) => observer.drift(claims, binding),
            _ => Ok(Vec::new()),
        }
    }
}
