//! Whether a reservation asked for at run time (the admin API's
//! `reservation add`) fits the running configuration: its subnet exists, the
//! address is a host address of that subnet, and no reservation of the
//! config file gives the address to another client.

use std::net::Ipv4Addr;

use crate::config::DhcpConfig;

/// Why a run-time reservation does not fit the configuration.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum ReservationRefusal {
    /// No `[[dhcp.subnet]]` has this name.
    #[error("there is no DHCP subnet named {subnet:?}; the subnets are: {known}")]
    UnknownSubnet {
        /// The name asked for.
        subnet: String,
        /// The configured names, comma-separated (`none` when there are none).
        known: String,
    },
    /// The address is not a host address of the subnet.
    #[error("{address} is not a host address of subnet {subnet} ({network}){why}")]
    OutsideSubnet {
        /// The address asked for.
        address: Ipv4Addr,
        /// The subnet's name.
        subnet: String,
        /// The subnet's network, e.g. `10.0.0.0/24`.
        network: String,
        /// `: it is the network address` and the like, or empty.
        why: String,
    },
    /// A reservation in the config file gives the address to another client.
    #[error(
        "{address} is already reserved in the config file (subnet {subnet}, for {owner}): pick another address or remove that reservation"
    )]
    ReservedInConfig {
        /// The address asked for.
        address: Ipv4Addr,
        /// The subnet of the config reservation.
        subnet: String,
        /// Who holds it: `mac aa:...`, `client-id ...` or `circuit-id ...`.
        owner: String,
    },
}

/// `aa-BB-cc...` and `aa:bb:cc...` compare equal.
fn same_mac(a: &str, b: &str) -> bool {
    a.replace('-', ":")
        .eq_ignore_ascii_case(&b.replace('-', ":"))
}

/// Checks a reservation of `address` for `mac` in the subnet named `subnet`
/// against `config`.
pub fn check_reservation(
    config: &DhcpConfig,
    subnet: &str,
    mac: &str,
    address: Ipv4Addr,
) -> Result<(), ReservationRefusal> {
    let Some(s) = config.subnets.iter().find(|s| s.name == subnet) else {
        let known: Vec<&str> = config.subnets.iter().map(|s| s.name.as_str()).collect();
        return Err(ReservationRefusal::UnknownSubnet {
            subnet: subnet.to_owned(),
            known: if known.is_empty() {
                "none".to_owned()
            } else {
                known.join(", ")
            },
        });
    };
    let net = s.subnet.trunc();
    let why = if !net.contains(&address) {
        Some(String::new())
    } else if net.prefix_len() < 31 && address == net.network() {
        Some(": it is the network address".to_owned())
    } else if net.prefix_len() < 31 && address == net.broadcast() {
        Some(": it is the broadcast address".to_owned())
    } else {
        None
    };
    if let Some(why) = why {
        return Err(ReservationRefusal::OutsideSubnet {
            address,
            subnet: subnet.to_owned(),
            network: net.to_string(),
            why,
        });
    }
    for other in &config.subnets {
        for r in other.reservations.iter().filter(|r| r.address == address) {
            if other.name == subnet && r.mac.as_deref().is_some_and(|m| same_mac(m, mac)) {
                continue;
            }
            let owner = match (&r.mac, &r.client_id, &r.circuit_id) {
                (Some(m), _, _) => format!("mac {m}"),
                (None, Some(c), _) => format!("client-id {c}"),
                (None, None, Some(c)) => format!("circuit-id {c}"),
                (None, None, None) => "another client".to_owned(),
            };
            return Err(ReservationRefusal::ReservedInConfig {
                address,
                subnet: other.name.clone(),
                owner,
            });
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn config() -> DhcpConfig {
        toml::from_str(
            r#"
interfaces = ["eth0"]
[[subnet]]
name = "lan"
subnet = "10.0.0.0/24"
pools = ["10.0.0.100-10.0.0.200"]
[[subnet.reservation]]
mac = "AA-BB-CC-00-00-01"
address = "10.0.0.5"
[[subnet]]
name = "cm"
subnet = "10.1.0.0/16"
"#,
        )
        .unwrap()
    }

    #[test]
    fn unknown_subnet_is_refused_with_the_names_that_exist() {
        let err = check_reservation(
            &config(),
            "lab",
            "aa:bb:cc:00:00:09",
            "10.0.0.9".parse().unwrap(),
        )
        .unwrap_err();
        assert_eq!(
            err.to_string(),
            "there is no DHCP subnet named \"lab\"; the subnets are: lan, cm"
        );
    }

    #[test]
    fn address_outside_the_subnet_is_refused() {
        let c = config();
        let mac = "aa:bb:cc:00:00:09";
        for (addr, needle) in [
            ("10.1.0.9", "(10.0.0.0/24)"),
            ("10.0.0.0", "network address"),
            ("10.0.0.255", "broadcast address"),
        ] {
            let err = check_reservation(&c, "lan", mac, addr.parse().unwrap()).unwrap_err();
            assert!(
                matches!(err, ReservationRefusal::OutsideSubnet { .. }),
                "{addr}: {err}"
            );
            assert!(err.to_string().contains(needle), "{err}");
        }
        check_reservation(&c, "lan", mac, "10.0.0.9".parse().unwrap()).unwrap();
        check_reservation(&c, "cm", mac, "10.1.2.3".parse().unwrap()).unwrap();
    }

    #[test]
    fn address_reserved_in_the_config_for_another_client_is_refused() {
        let c = config();
        let err = check_reservation(&c, "lan", "aa:bb:cc:00:00:09", "10.0.0.5".parse().unwrap())
            .unwrap_err();
        assert!(err.to_string().contains("mac AA-BB-CC-00-00-01"), "{err}");
        // The same client may be given its own address again.
        check_reservation(&c, "lan", "aa:bb:cc:00:00:01", "10.0.0.5".parse().unwrap()).unwrap();
    }
}
