//! The sans-I/O DHCPv4 server: a validated request, where it arrived, a lease
//! transaction and the time in; a reply (or the reason for silence) out.
//! No sockets and no clock reads here.

use std::net::{Ipv4Addr, SocketAddrV4};
use std::sync::{Arc, Mutex};
use std::time::SystemTime;

use arc_swap::ArcSwap;
use headend_store::{Lease, LeaseState, LeaseTx, StoreError};

use crate::DhcpError;
use crate::alloc::{self, Found};
use crate::config::{DhcpConfig, HaMode};
use crate::ha;
use crate::limit::Limiter;
use crate::plan::{Boot, Class, Plan, Reservation, Subnet};
use crate::wire::{MessageType, ReplyHeader, Request, code, encode_reply, relay_sub_option};

/// BOOTP server port (relays listen here too) and client port (RFC 2131 §4.1).
pub const SERVER_PORT: u16 = 67;
/// DHCP client port.
pub const CLIENT_PORT: u16 = 68;
/// BOOTP leases (reservations) are permanent; recorded as this many seconds.
const BOOTP_LEASE: u64 = 10 * 365 * 86_400;

/// Where a request came from.
#[derive(Debug, Clone)]
pub struct Ingress {
    /// The interface it arrived on, when the socket knows (SO_BINDTODEVICE).
    pub interface: Option<String>,
    /// The sender (a relay, or the client itself).
    pub source: SocketAddrV4,
}

/// A datagram to send.
#[derive(Debug, Clone)]
pub struct Reply {
    /// The encoded message.
    pub bytes: Vec<u8>,
    /// Where to send it (RFC 2131 §4.1).
    pub to: SocketAddrV4,
    /// OFFER, ACK or NAK (ACK also for INFORM and BOOTP).
    pub kind: MessageType,
    /// The address given (unspecified for NAK and INFORM).
    pub yiaddr: Ipv4Addr,
    /// For the lease log line, when `dhcp.log_leases` is on and the reply
    /// is an ACK or NAK.
    pub note: Option<Box<LeaseNote>>,
}

/// Who a lease event concerns, as the lease log line shows it (ISC dhcpd's
/// `DHCPACK on IP to MAC via RELAY`, with structured fields).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LeaseNote {
    /// `grant` (a new binding), `renew` (ciaddr set: RENEWING/REBINDING) or `nak`.
    pub event: &'static str,
    /// The client's hardware address, `aa:bb:cc:dd:ee:ff`.
    pub mac: String,
    /// Option 61 in hex, when sent.
    pub client_id: Option<String>,
    /// The subnet's name.
    pub subnet: String,
    /// The first matching class.
    pub class: Option<String>,
    /// Option 82 circuit-id (text when printable, else hex).
    pub circuit_id: Option<String>,
    /// Option 82 remote-id (text when printable, else hex).
    pub remote_id: Option<String>,
    /// The relay (giaddr), when relayed.
    pub relay: Option<Ipv4Addr>,
    /// Lease time given, seconds (ACK only).
    pub lease_secs: Option<u32>,
}

/// A hardware address as `aa:bb:cc:dd:ee:ff`.
fn text_or_hex_mac(b: &[u8]) -> String {
    b.iter()
        .map(|c| format!("{c:02x}"))
        .collect::<Vec<_>>()
        .join(":")
}

/// Printable ASCII as it is, anything else as hex.
pub(crate) fn text_or_hex(b: &[u8]) -> String {
    if !b.is_empty() && b.iter().all(|c| (0x21..0x7f).contains(c)) {
        String::from_utf8_lossy(b).into_owned()
    } else {
        b.iter()
            .map(|c| format!("{c:02x}"))
            .collect::<Vec<_>>()
            .join(":")
    }
}

/// Why a request got no reply.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum Silence {
    /// Handled, and the protocol wants no reply (RELEASE, DECLINE, a REQUEST
    /// for another server).
    Done(Handled),
    /// No configured subnet for the relay address or arrival interface.
    NoSubnet,
    /// The client is over its request rate.
    RateLimited,
    /// The relay circuit-id already holds its cap of leases.
    CircuitCap {
        /// The subnet's name.
        subnet: String,
    },
    /// The relay remote-id already holds its cap of leases.
    RemoteCap {
        /// The subnet's name.
        subnet: String,
    },
    /// No free address in the subnet's pools.
    PoolExhausted {
        /// The subnet's name.
        subnet: String,
    },
    /// A BOOTP request where BOOTP is off or the client has no reservation.
    Bootp,
    /// A message type a client does not send (OFFER, ACK, NAK).
    Unsupported,
    /// A REQUEST or DECLINE missing a field RFC 2131 requires.
    Incomplete,
    /// Another live server answers this client (`[dhcp.ha]` load-balancing
    /// or hot-standby).
    NotInScope,
}

impl Silence {
    /// A short name for counters.
    pub fn as_str(&self) -> &'static str {
        match self {
            Self::Done(what) => what.as_str(),
            Self::NoSubnet => "no_subnet",
            Self::RateLimited => "rate_limited",
            Self::CircuitCap { .. } => "circuit_id_cap",
            Self::RemoteCap { .. } => "remote_id_cap",
            Self::PoolExhausted { .. } => "pool_exhausted",
            Self::Bootp => "bootp_dropped",
            Self::Unsupported => "unsupported_type",
            Self::Incomplete => "incomplete",
            Self::NotInScope => "not_in_scope",
        }
    }
}

/// A request handled in full that the protocol answers with silence.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum Handled {
    /// A DHCPRELEASE (RFC 2131 §4.3.4).
    Release,
    /// A DHCPDECLINE (RFC 2131 §4.3.3).
    Decline,
    /// A DHCPREQUEST naming another server: the client took another offer.
    RequestForOtherServer,
    /// A DHCPDECLINE naming another server.
    DeclineForOtherServer,
}

impl Handled {
    /// A short name for logs.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Release => "release",
            Self::Decline => "decline",
            Self::RequestForOtherServer => "request_for_other_server",
            Self::DeclineForOtherServer => "decline_for_other_server",
        }
    }
}

/// What the server decided.
#[derive(Debug, Clone)]
pub enum Outcome {
    /// Send this (after the transaction commits).
    Reply(Reply),
    /// Send nothing.
    Silent(Silence),
}

/// The DHCP server's decision logic. Its configuration can be replaced while
/// it runs ([`Server::reload`]); each request is decided entirely under the
/// configuration it started with.
#[derive(Debug)]
pub struct Server {
    /// The compiled configuration; swapped whole, read without locking.
    plan: ArcSwap<Plan>,
    /// Per-client rate buckets; they outlive reloads.
    limiter: Mutex<Limiter>,
    /// Which servers of `[dhcp.ha] servers` are alive, by position, as the
    /// heartbeat rows last said (empty: no list, or not yet read).
    live: ArcSwap<Vec<bool>>,
}

/// Everything known about one exchange.
struct Exchange<'a> {
    /// The configuration this request is decided under.
    plan: &'a Plan,
    req: &'a Request,
    subnet: &'a Subnet,
    classes: Vec<&'a Class>,
    key: Vec<u8>,
    /// From the config, else from the admin API's table in the store.
    reservation: Option<Reservation>,
    circuit: Option<&'a [u8]>,
    remote: Option<&'a [u8]>,
    now: u64,
}

impl Server {
    /// Compiles the configuration.
    pub fn new(config: &DhcpConfig) -> Result<Self, DhcpError> {
        let plan = Plan::compile(config)?;
        Ok(Self {
            plan: ArcSwap::from_pointee(plan),
            limiter: Mutex::new(Limiter::new()),
            live: ArcSwap::from_pointee(Vec::new()),
        })
    }

    /// Replaces the configuration for the requests decided from now on, after
    /// compiling and checking it exactly as [`Server::new`] does; a config
    /// that does not compile is refused and the current one stays. Leases
    /// live in the store and rate buckets in the server, so both carry over.
    pub fn reload(&self, config: &DhcpConfig) -> Result<(), DhcpError> {
        self.install(Plan::compile(config)?);
        Ok(())
    }

    /// Makes a compiled configuration the current one.
    pub(crate) fn install(&self, plan: Plan) {
        self.plan.store(Arc::new(plan));
    }

    /// The current configuration (a snapshot: a reload does not change it).
    pub(crate) fn plan(&self) -> Arc<Plan> {
        self.plan.load_full()
    }

    /// Records which servers of `[dhcp.ha] servers` are alive (by position),
    /// as the store's heartbeat rows say.
    pub(crate) fn set_live(&self, live: Vec<bool>) {
        self.live.store(Arc::new(live));
    }

    /// Decides the answer to one request. Lease changes go into `leases`; the
    /// caller must commit them before sending the reply.
    pub fn handle<L: LeaseTx + ?Sized>(
        &self,
        req: &Request,
        ctx: &Ingress,
        leases: &mut L,
        now: SystemTime,
    ) -> Result<Outcome, StoreError> {
        self.decide(req, ctx, leases, now, true)
    }

    /// Decides a request again, in a new transaction, after its first
    /// transaction lost a conflict: as [`Server::handle`], but its client's
    /// rate bucket is not charged a second time.
    pub(crate) fn handle_again<L: LeaseTx + ?Sized>(
        &self,
        req: &Request,
        ctx: &Ingress,
        leases: &mut L,
        now: SystemTime,
    ) -> Result<Outcome, StoreError> {
        self.decide(req, ctx, leases, now, false)
    }

    fn decide<L: LeaseTx + ?Sized>(
        &self,
        req: &Request,
        ctx: &Ingress,
        leases: &mut L,
        now: SystemTime,
        charge: bool,
    ) -> Result<Outcome, StoreError> {
        let since_epoch = headend_util::time::since_epoch(now);
        // One snapshot for the whole exchange: a reload meanwhile applies
        // from the next request on.
        let plan = self.plan();
        let plan = &*plan;
        if !self.in_scope(plan, req) {
            return Ok(Outcome::Silent(Silence::NotInScope));
        }
        let classes: Vec<&Class> = plan.classes.iter().filter(|c| c.matches(req)).collect();
        let Some(subnet) = select_subnet(plan, req, ctx, &classes) else {
            return Ok(Outcome::Silent(Silence::NoSubnet));
        };
        let key = req.client_key();
        let allowed = !charge
            || self
                .limiter
                .lock()
                .map(|mut l| l.allow(&key, since_epoch, plan.rate_per_sec, plan.rate_burst))
                .unwrap_or(true);
        if !allowed {
            return Ok(Outcome::Silent(Silence::RateLimited));
        }
        let reservation = match subnet.reservation_for(req) {
            Some(r) => Some(r.clone()),
            None => leases
                .api_reservation(&subnet.name, req.hwaddr())?
                .filter(|(address, _)| subnet.net.contains(address))
                .map(|(address, hostname)| Reservation::from_api(address, hostname)),
        };
        let info = req.option(code::RELAY_AGENT_INFO);
        let x = Exchange {
            plan,
            req,
            subnet,
            classes,
            reservation,
            key,
            circuit: info.and_then(|i| relay_sub_option(i, 1)),
            remote: info.and_then(|i| relay_sub_option(i, 2)),
            now: since_epoch.as_secs(),
        };
        let Some(kind) = req.kind else {
            return self.bootp(&x, leases);
        };
        match kind {
            MessageType::Discover => self.discover(&x, leases),
            MessageType::Request => self.request(&x, leases),
            MessageType::Decline => self.decline(&x, leases),
            MessageType::Release => self.release(&x, leases),
            MessageType::Inform => Ok(Outcome::Reply(self.reply(
                &x,
                MessageType::Ack,
                Ipv4Addr::UNSPECIFIED,
            ))),
            _ => Ok(Outcome::Silent(Silence::Unsupported)),
        }
    }

    /// True unless `[dhcp.ha]` gives the client to another live server
    /// (which the current configuration decides; see `in_scope`).
    pub(crate) fn answers(&self, req: &Request) -> bool {
        self.in_scope(&self.plan(), req)
    }

    /// `[dhcp.ha]` load-balancing and hot-standby: true if this server
    /// answers the client, false if another live server does. The message
    /// types a client's binding depends on are filtered (as Kea's HA does:
    /// DISCOVER, REQUEST, DECLINE, RELEASE, INFORM); RFC 3074 §3 hashes
    /// "the client identifier option if present, otherwise chaddr".
    fn in_scope(&self, plan: &Plan, req: &Request) -> bool {
        if plan.ha.mode == HaMode::Shared || req.kind.is_none() {
            return true;
        }
        let id = req
            .option(code::CLIENT_ID)
            .filter(|c| !c.is_empty())
            .unwrap_or_else(|| req.hwaddr());
        plan.ha.answers(ha::bucket(id), &self.live.load())
    }

    fn lease_times(&self, x: &Exchange<'_>) -> (u32, u32, u32) {
        match x.classes.iter().find_map(|c| c.lease_time) {
            Some(l) => (l, l / 2, u32::try_from(u64::from(l) * 7 / 8).unwrap_or(l)),
            None => (
                x.subnet.lease_time,
                x.subnet.renew_time,
                x.subnet.rebind_time,
            ),
        }
    }

    /// Caps on live leases per relay circuit-id / remote-id (subnet and class
    /// caps both apply). A client that already holds a lease is never capped.
    fn over_cap<L: LeaseTx + ?Sized>(
        &self,
        x: &Exchange<'_>,
        tx: &mut L,
    ) -> Result<Option<Silence>, StoreError> {
        let cap = |sub: Option<u32>, f: fn(&Class) -> Option<u32>| {
            x.classes.iter().filter_map(|c| f(c)).chain(sub).min()
        };
        if let (Some(cid), Some(max)) = (x.circuit, cap(x.subnet.cap_circuit, |c| c.cap_circuit))
            && tx.count_live_by_circuit(&x.subnet.name, cid, &x.key, x.now)? >= u64::from(max)
        {
            return Ok(Some(Silence::CircuitCap {
                subnet: x.subnet.name.clone(),
            }));
        }
        if let (Some(rid), Some(max)) = (x.remote, cap(x.subnet.cap_remote, |c| c.cap_remote))
            && tx.count_live_by_remote(&x.subnet.name, rid, &x.key, x.now)? >= u64::from(max)
        {
            return Ok(Some(Silence::RemoteCap {
                subnet: x.subnet.name.clone(),
            }));
        }
        Ok(None)
    }

    fn new_lease(
        &self,
        x: &Exchange<'_>,
        address: Ipv4Addr,
        state: LeaseState,
        expires: u64,
    ) -> Lease {
        let hostname = x
            .reservation
            .as_ref()
            .and_then(|r| r.hostname.clone())
            .or_else(|| {
                x.req
                    .option(code::HOST_NAME)
                    .map(|h| String::from_utf8_lossy(h).into_owned())
            });
        Lease {
            address,
            subnet: x.subnet.name.clone(),
            client_key: x.key.clone(),
            hwaddr: x.req.hwaddr().to_vec(),
            client_id: x.req.option(code::CLIENT_ID).map(<[u8]>::to_vec),
            hostname,
            state,
            expires,
            circuit_id: x.circuit.map(<[u8]>::to_vec),
            remote_id: x.remote.map(<[u8]>::to_vec),
            // The first matching class is the one whose settings win (see
            // `options` and `boot`); templates see it as `lease.class`.
            class: x.classes.first().map(|c| c.name.clone()),
            // Which server wrote it: a REQUEST naming another server ends
            // only this server's own offer.
            server: Some(x.subnet.server_id),
        }
    }

    /// Writes a lease: a never-used address is claimed (insert-if-absent), a
    /// known one overwritten. False if the claim lost to another writer.
    fn write<L: LeaseTx + ?Sized>(
        tx: &mut L,
        lease: &Lease,
        existing: bool,
    ) -> Result<bool, StoreError> {
        if existing {
            tx.put(lease)?;
            Ok(true)
        } else {
            tx.claim(lease)
        }
    }

    /// RFC 2131 §4.3.1: DISCOVER → OFFER, the address held for the client.
    fn discover<L: LeaseTx + ?Sized>(
        &self,
        x: &Exchange<'_>,
        tx: &mut L,
    ) -> Result<Outcome, StoreError> {
        for _attempt in 0..4 {
            let (address, row) = if let Some(r) = &x.reservation {
                (r.address, tx.lease_by_address(r.address)?)
            } else {
                match alloc::find(
                    x.subnet,
                    &x.plan.ha,
                    &x.key,
                    x.req.option_addr(code::REQUESTED_ADDRESS),
                    tx,
                    x.now,
                )? {
                    Found::Address(a, row) => (a, row.map(|r| *r)),
                    Found::Exhausted => {
                        return Ok(Outcome::Silent(Silence::PoolExhausted {
                            subnet: x.subnet.name.clone(),
                        }));
                    }
                }
            };
            let holds = row.as_ref().is_some_and(|r| {
                r.client_key == x.key && r.is_live(x.now) && r.state != LeaseState::Declined
            });
            if !holds && let Some(s) = self.over_cap(x, tx)? {
                return Ok(Outcome::Silent(s));
            }
            // A bound lease stays bound, and another server's live offer of
            // this address to this client stays its offer (both servers
            // offer the same address; the client's REQUEST picks one).
            // Otherwise hold the address briefly.
            let keep = holds
                && row.as_ref().is_some_and(|r| {
                    r.state == LeaseState::Bound
                        || (r.state == LeaseState::Offered
                            && r.server.is_some_and(|s| s != x.subnet.server_id))
                });
            if !keep {
                let lease =
                    self.new_lease(x, address, LeaseState::Offered, x.now + x.plan.offer_hold);
                if !Self::write(tx, &lease, row.is_some())? {
                    continue;
                }
            }
            return Ok(Outcome::Reply(self.reply(x, MessageType::Offer, address)));
        }
        Ok(Outcome::Silent(Silence::PoolExhausted {
            subnet: x.subnet.name.clone(),
        }))
    }

    /// RFC 2131 §4.3.2: REQUEST → ACK or NAK.
    fn request<L: LeaseTx + ?Sized>(
        &self,
        x: &Exchange<'_>,
        tx: &mut L,
    ) -> Result<Outcome, StoreError> {
        let req = x.req;
        let ciaddr = req.header.ciaddr();
        let requested = req.option_addr(code::REQUESTED_ADDRESS);
        let address = if let Some(sid) = req.option_addr(code::SERVER_ID) {
            // SELECTING: "If the server-id does not match, the client has
            // declined this server's offer": free what we offered, stay
            // silent. Only an offer this server made: with a shared store
            // the client's newest row may be the chosen server's offer,
            // which must stay for its ACK, or its binding.
            if sid != x.subnet.server_id {
                if let Some(mut row) =
                    tx.offer_by_client(&x.subnet.name, &x.key, x.subnet.server_id)?
                {
                    end_binding(tx, &mut row, x.now)?;
                }
                return Ok(Outcome::Silent(Silence::Done(
                    Handled::RequestForOtherServer,
                )));
            }
            // "'requested IP address' MUST be filled in".
            match requested {
                Some(a) => a,
                None => return Ok(Outcome::Silent(Silence::Incomplete)),
            }
        } else if let Some(a) = requested {
            // INIT-REBOOT: "server SHOULD send a DHCPNAK message to the client
            // if the 'requested IP address' is incorrect, or is on the wrong
            // network".
            a
        } else if !ciaddr.is_unspecified() {
            // RENEWING (unicast) / REBINDING (broadcast): ciaddr is the lease.
            ciaddr
        } else {
            return Ok(Outcome::Silent(Silence::Incomplete));
        };
        let nak = |why: &'static str| {
            tracing::debug!(subnet = %x.subnet.name, %address, why, "DHCPNAK");
            Ok(Outcome::Reply(self.reply(
                x,
                MessageType::Nak,
                Ipv4Addr::UNSPECIFIED,
            )))
        };
        if !x.subnet.net.contains(&address) {
            return nak("address not on the client's subnet");
        }
        if let Some(r) = &x.reservation {
            if r.address != address {
                return nak("client has a reservation for another address");
            }
        } else if !x.subnet.in_pool(address)
            || x.subnet.is_reserved(address)
            || tx.api_reserved(&x.subnet.name, address)?
        {
            // Also a renewal of an address that has left the pools since it
            // was leased (a reload shrank or moved them), as Kea and ISC dhcpd
            // do. "If the client receives a DHCPNAK message, the client
            // restarts the configuration process" (§3.2), so its binding
            // ends here; its DISCOVER then gets an address from the pools.
            if let Some(mut row) = tx.lease_by_address(address)?
                && row.client_key == x.key
                && row.state == LeaseState::Bound
                && row.is_live(x.now)
            {
                end_binding(tx, &mut row, x.now)?;
            }
            return nak("address not in a pool");
        }
        let row = tx.lease_by_address(address)?;
        if let Some(r) = &row {
            if x.reservation.is_none() && !alloc::usable_by(r, &x.key, x.now) {
                return nak("address held by another client");
            }
            if r.client_key == x.key && r.state == LeaseState::Declined {
                return nak("client declined this address");
            }
        }
        let holds = row
            .as_ref()
            .is_some_and(|r| r.client_key == x.key && r.is_live(x.now));
        if !holds {
            // INIT-REBOOT or renewal of an address we have no binding for:
            // refuse if the client is bound to another address here.
            if let Some(other) = tx.lease_by_client(&x.subnet.name, &x.key)?
                && other.address != address
                && other.state == LeaseState::Bound
                && other.is_live(x.now)
            {
                return nak("client is bound to another address");
            }
            if let Some(s) = self.over_cap(x, tx)? {
                return Ok(Outcome::Silent(s));
            }
        }
        let (lease_time, _, _) = self.lease_times(x);
        let lease = self.new_lease(x, address, LeaseState::Bound, x.now + u64::from(lease_time));
        if !Self::write(tx, &lease, row.is_some())? {
            return nak("address claimed by another server");
        }
        Ok(Outcome::Reply(self.reply(x, MessageType::Ack, address)))
    }

    /// RFC 2131 §4.3.3: DECLINE → the address is quarantined, no reply.
    fn decline<L: LeaseTx + ?Sized>(
        &self,
        x: &Exchange<'_>,
        tx: &mut L,
    ) -> Result<Outcome, StoreError> {
        if x.req
            .option_addr(code::SERVER_ID)
            .is_some_and(|s| s != x.subnet.server_id)
        {
            return Ok(Outcome::Silent(Silence::Done(
                Handled::DeclineForOtherServer,
            )));
        }
        let Some(address) = x.req.option_addr(code::REQUESTED_ADDRESS) else {
            return Ok(Outcome::Silent(Silence::Incomplete));
        };
        if let Some(mut row) = tx.lease_by_address(address)?
            && row.client_key == x.key
        {
            // "The server MUST mark the network address as not available".
            row.state = LeaseState::Declined;
            row.expires = x.now + x.plan.quarantine;
            tx.put(&row)?;
            tracing::warn!(subnet = %x.subnet.name, %address, "DHCPDECLINE: address in use on the network, quarantined");
        }
        Ok(Outcome::Silent(Silence::Done(Handled::Decline)))
    }

    /// RFC 2131 §4.3.4: RELEASE → the address is free again (and remembered
    /// for this client), no reply.
    fn release<L: LeaseTx + ?Sized>(
        &self,
        x: &Exchange<'_>,
        tx: &mut L,
    ) -> Result<Outcome, StoreError> {
        let address = x.req.header.ciaddr();
        if let Some(mut row) = tx.lease_by_address(address)?
            && row.client_key == x.key
            && row.state != LeaseState::Declined
        {
            end_binding(tx, &mut row, x.now)?;
        }
        Ok(Outcome::Silent(Silence::Done(Handled::Release)))
    }

    /// BOOTP (RFC 951 / RFC 1497): answered only where the subnet enables it,
    /// and only for reserved clients (as Kea and dnsmasq do).
    fn bootp<L: LeaseTx + ?Sized>(
        &self,
        x: &Exchange<'_>,
        tx: &mut L,
    ) -> Result<Outcome, StoreError> {
        let Some(r) = x.reservation.as_ref().filter(|_| x.subnet.bootp) else {
            return Ok(Outcome::Silent(Silence::Bootp));
        };
        let row = tx.lease_by_address(r.address)?;
        let lease = self.new_lease(x, r.address, LeaseState::Bound, x.now + BOOTP_LEASE);
        Self::write(tx, &lease, row.is_some())?;
        let mut reply = self.reply(x, MessageType::Ack, r.address);
        reply.kind = MessageType::Ack;
        Ok(Outcome::Reply(reply))
    }

    /// The boot fields: reservation, then the first class that sets one, then the subnet.
    fn boot(&self, x: &Exchange<'_>) -> Boot {
        let pick = |f: fn(&Boot) -> Option<&String>| {
            x.reservation
                .as_ref()
                .and_then(|r| f(&r.boot))
                .or_else(|| x.classes.iter().find_map(|c| f(&c.boot)))
                .or_else(|| f(&x.subnet.boot))
                .cloned()
        };
        Boot {
            next_server: x
                .reservation
                .as_ref()
                .and_then(|r| r.boot.next_server)
                .or_else(|| x.classes.iter().find_map(|c| c.boot.next_server))
                .or(x.subnet.boot.next_server),
            server_name: pick(|b| b.server_name.as_ref()),
            boot_file: pick(|b| b.boot_file.as_ref()),
        }
    }

    /// Builds a reply (RFC 2131 §4.3.1 table 3) and picks its destination (§4.1).
    fn reply(&self, x: &Exchange<'_>, kind: MessageType, yiaddr: Ipv4Addr) -> Reply {
        let req = x.req;
        let bootp = req.kind.is_none();
        let inform = req.kind == Some(MessageType::Inform);
        let mut ordered: Vec<(u8, Vec<u8>)> = Vec::new();
        if !bootp {
            ordered.push((code::MESSAGE_TYPE, vec![kind.to_u8()]));
            ordered.push((code::SERVER_ID, x.subnet.server_id.octets().to_vec()));
        }
        let boot = self.boot(x);
        let mut header = ReplyHeader {
            yiaddr,
            siaddr: Ipv4Addr::UNSPECIFIED,
            sname: None,
            file: None,
            ciaddr: if inform {
                req.header.ciaddr()
            } else {
                Ipv4Addr::UNSPECIFIED
            },
        };
        if kind != MessageType::Nak {
            // Precedence: reservation > classes (first wins) > subnet > global.
            let mut merged = x.plan.options.clone();
            merged.extend(x.subnet.options.iter().map(|(k, v)| (*k, v.clone())));
            for class in x.classes.iter().rev() {
                merged.extend(class.options.iter().map(|(k, v)| (*k, v.clone())));
            }
            if let Some(r) = &x.reservation {
                merged.extend(r.options.iter().map(|(k, v)| (*k, v.clone())));
                if let Some(h) = &r.hostname {
                    merged.insert(code::HOST_NAME, h.as_bytes().to_vec());
                }
            }
            let prl = req.option(code::PARAMETER_REQUEST_LIST).unwrap_or_default();
            if let Some(file) = &boot.boot_file
                && prl.contains(&code::BOOTFILE_NAME)
            {
                merged
                    .entry(code::BOOTFILE_NAME)
                    .or_insert_with(|| file.as_bytes().to_vec());
            }
            if !inform && !bootp {
                let (lease, t1, t2) = self.lease_times(x);
                ordered.push((code::LEASE_TIME, lease.to_be_bytes().to_vec()));
                ordered.push((code::RENEWAL_TIME, t1.to_be_bytes().to_vec()));
                ordered.push((code::REBINDING_TIME, t2.to_be_bytes().to_vec()));
            }
            // RFC 2131 §4.3.1: options the client asked for (option 55), in its
            // order, come first; the rest follow by code.
            for c in prl {
                if let Some(v) = merged.remove(c) {
                    ordered.push((*c, v));
                }
            }
            ordered.extend(merged);
            header.siaddr = boot.next_server.unwrap_or(Ipv4Addr::UNSPECIFIED);
            header.sname = boot.server_name;
            header.file = boot.boot_file;
        }
        ordered.retain(|(c, _)| *c != code::RELAY_AGENT_INFO);
        // RFC 3046 §2.2: echo option 82 verbatim, as the last option.
        let bytes = encode_reply(req, &header, &ordered, req.option(code::RELAY_AGENT_INFO));
        // Built only when the line will be written: the formatting costs
        // more than the rest of the reply.
        let note = (x.plan.log_leases
            && matches!(kind, MessageType::Ack | MessageType::Nak)
            && !inform
            && tracing::enabled!(target: "headend::lease", tracing::Level::INFO))
        .then(|| {
            Box::new(LeaseNote {
                event: if kind == MessageType::Nak {
                    "nak"
                } else if req.header.ciaddr().is_unspecified() {
                    "grant"
                } else {
                    "renew"
                },
                mac: text_or_hex_mac(req.hwaddr()),
                client_id: req.option(code::CLIENT_ID).map(|c| {
                    c.iter()
                        .map(|b| format!("{b:02x}"))
                        .collect::<Vec<_>>()
                        .join(":")
                }),
                subnet: x.subnet.name.clone(),
                class: x.classes.first().map(|c| c.name.clone()),
                circuit_id: x.circuit.map(text_or_hex),
                remote_id: x.remote.map(text_or_hex),
                relay: Some(req.header.giaddr()).filter(|g| !g.is_unspecified()),
                lease_secs: (kind == MessageType::Ack && !bootp).then(|| self.lease_times(x).0),
            })
        });
        Reply {
            bytes,
            to: destination(req, kind),
            kind,
            yiaddr,
            note,
        }
    }
}

/// RFC 2131 §4.3.4: "the server marks the network address as not
/// allocated. The server SHOULD retain a record of the client's
/// initialization parameters for possible reuse in response to subsequent
/// requests from the client": the row stays, released, and ends now.
fn end_binding<L: LeaseTx + ?Sized>(
    tx: &mut L,
    row: &mut Lease,
    now: u64,
) -> Result<(), StoreError> {
    row.state = LeaseState::Released;
    row.expires = now;
    tx.put(row)
}

/// What an operator's release of an address did ([`release_address`]).
pub type Release = headend_store::Released<Lease>;

/// An operator ends the lease of `address` (the admin API's lease release),
/// under the rules a client's DHCPRELEASE follows, in the transaction `tx`
/// at time `now`; the caller commits. RFC 2131 §4.3.4: the address is marked
/// "as not allocated" and the row is kept for its client, who gets the
/// address back if it asks while it is still free. A declined address stays
/// quarantined (§4.3.3: "The server MUST mark the network address as not
/// available"), as it does for a client's RELEASE. An address whose lease
/// already ran out is left as it is, so the order in which expired
/// addresses are reused (longest expired first) does not change.
pub fn release_address<L: LeaseTx + ?Sized>(
    tx: &mut L,
    address: Ipv4Addr,
    now: SystemTime,
) -> Result<Release, StoreError> {
    let now = headend_util::time::since_epoch(now).as_secs();
    let Some(mut row) = tx.lease_by_address(address)? else {
        return Ok(Release::Unknown);
    };
    if !row.is_live(now) || row.state == LeaseState::Released {
        return Ok(Release::AlreadyFree(row));
    }
    if row.state == LeaseState::Declined {
        return Ok(Release::Quarantined(row));
    }
    let was = row.state;
    end_binding(tx, &mut row, now)?;
    Ok(Release::Ended { lease: row, was })
}

/// RFC 2131 §4.3.1: "the server selects the subnet from giaddr if it is
/// non-zero, else from the interface the message arrived on"; a unicast
/// renewal is placed by its ciaddr. Among several candidates (a relay
/// serving modems and customers), a subnet whose class list matches the
/// client wins over one with no class list.
fn select_subnet<'a>(
    plan: &'a Plan,
    req: &Request,
    ctx: &Ingress,
    classes: &[&Class],
) -> Option<&'a Subnet> {
    let giaddr = req.header.giaddr();
    let ciaddr = req.header.ciaddr();
    let candidate = |s: &&Subnet| {
        if !giaddr.is_unspecified() {
            s.net.contains(&giaddr) || s.relays.contains(&giaddr)
        } else if !ciaddr.is_unspecified() {
            s.net.contains(&ciaddr)
                && (s.interface.is_none()
                    || ctx.interface.is_none()
                    || s.interface == ctx.interface)
        } else {
            s.interface.is_some() && s.interface == ctx.interface
        }
    };
    let in_class = |s: &&Subnet| {
        s.classes.iter().any(|i| {
            plan.classes
                .get(*i)
                .is_some_and(|c| classes.iter().any(|m| m.name == c.name))
        })
    };
    let subnets = || plan.subnets.iter().filter(candidate);
    subnets()
        .find(|s| !s.classes.is_empty() && in_class(s))
        .or_else(|| subnets().find(|s| s.classes.is_empty()))
}

/// RFC 2131 §4.1: "If the 'giaddr' field ... is not zero, the server sends
/// any return messages to the 'DHCP server' port on the BOOTP relay agent
/// whose address appears in 'giaddr'. If the 'giaddr' field is zero and the
/// 'ciaddr' field is nonzero, then the server unicasts DHCPOFFER and DHCPACK
/// messages to the address in 'ciaddr'. ... If 'giaddr' is zero and 'ciaddr'
/// is zero, and the broadcast bit is set, then the server broadcasts ... In
/// all cases, when 'giaddr' is zero, the server broadcasts any DHCPNAK."
/// Unicasting to yiaddr of a client without an address would need ARP
/// injection through a raw socket; we broadcast instead (clients accept it).
fn destination(req: &Request, kind: MessageType) -> SocketAddrV4 {
    let giaddr = req.header.giaddr();
    let ciaddr = req.header.ciaddr();
    if !giaddr.is_unspecified() {
        SocketAddrV4::new(giaddr, SERVER_PORT)
    } else if kind != MessageType::Nak && !ciaddr.is_unspecified() {
        SocketAddrV4::new(ciaddr, CLIENT_PORT)
    } else {
        SocketAddrV4::new(Ipv4Addr::BROADCAST, CLIENT_PORT)
    }
}
