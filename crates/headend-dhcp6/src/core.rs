//! The sans-I/O DHCPv6 server (RFC 8415 §18.3): a request, where it came
//! from, a store transaction and the time in; a reply (or silence) out.
//! No sockets, no clock reads.

use std::collections::HashMap;
use std::net::{Ipv6Addr, SocketAddrV6};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::SystemTime;

use arc_swap::ArcSwap;
use headend_store::{Lease6, Lease6Kind, Lease6Tx, LeaseState, StoreError};
use headend_util::bucket::Buckets;

use crate::plan::{Class, OptionSet, Plan, Pool, ResKey, Reservation, Subnet};
use crate::wire::{self, Ia, IaEntry, IaKind, Message, Options, Request, msg, opt, status};

/// The client port (546) replies go to when not relayed.
pub const CLIENT_PORT: u16 = 546;
/// The server port (547).
pub const SERVER_PORT: u16 = 547;
/// Candidate addresses tried per pool before moving on (others' claims).
const CLAIM_TRIES: usize = 64;

/// Where a request came from.
#[derive(Debug, Clone)]
pub struct Ingress {
    /// The interface it arrived on, when the socket is bound to one.
    pub interface: Option<String>,
    /// Its sender (the client, or the relay that sent it to us).
    pub source: SocketAddrV6,
    /// True when it was sent to a unicast address of ours (not ff02::1:2).
    pub unicast: bool,
}

/// A reply and where it goes.
#[derive(Debug, Clone)]
pub struct Reply {
    /// The datagram (wrapped in RELAY-REPL when relayed).
    pub bytes: Vec<u8>,
    /// Its destination: the request's sender.
    pub to: SocketAddrV6,
    /// ADVERTISE or REPLY.
    pub kind: u8,
    /// Addresses and prefixes granted (valid lifetime > 0) in it.
    pub granted: Vec<(Ipv6Addr, u8)>,
}

/// Why a request got no answer.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum Silence {
    /// No client identifier where one is required, or one where not allowed.
    BadIdentifiers,
    /// Addressed to another server (server identifier not ours).
    OtherServer,
    /// No subnet for the client's link.
    NoSubnet,
    /// The client exceeded its rate.
    RateLimited,
    /// A new client behind a relay remote-id or interface-id that already
    /// has its cap of clients.
    RelayCap,
    /// Nothing to answer (CONFIRM without addresses, IA_TA only, ...).
    Nothing,
}

impl Silence {
    /// A short name for logs and counters.
    pub fn as_str(&self) -> &'static str {
        match self {
            Self::BadIdentifiers => "bad_identifiers",
            Self::OtherServer => "other_server",
            Self::NoSubnet => "no_subnet",
            Self::RateLimited => "rate_limited",
            Self::RelayCap => "relay_cap",
            Self::Nothing => "nothing",
        }
    }
}

/// What [`Server::handle`] decided.
#[derive(Debug, Clone)]
pub enum Outcome {
    /// Send this (after the transaction is durable).
    Reply(Reply),
    /// Say nothing.
    Silent(Silence),
}

/// The DHCPv6 decision logic and its current configuration.
pub struct Server {
    plan: ArcSwap<Plan>,
    duid: Vec<u8>,
    buckets: Mutex<Buckets<Vec<u8>>>,
    cursors: Cursors,
}

/// Per pool (first, last), the next never-used candidate after this
/// server's last claim there: it spares the highest-row query on every
/// allocation. Only a hint: a claim still decides, a miss falls back to
/// the query, and a rolled-back batch forgets every cursor (its claims are
/// gone, so the cursor may have passed free addresses).
#[derive(Default)]
struct Cursors(Mutex<HashMap<(u128, u128), u128>>);

impl Cursors {
    fn get(&self, pool: &Pool) -> Option<u128> {
        let map = self.0.lock().unwrap_or_else(PoisonError::into_inner);
        map.get(&(pool.first, pool.last)).copied()
    }

    fn set(&self, pool: &Pool, next: Option<u128>) {
        let mut map = self.0.lock().unwrap_or_else(PoisonError::into_inner);
        match next {
            Some(n) => map.insert((pool.first, pool.last), n),
            None => map.remove(&(pool.first, pool.last)),
        };
    }

    fn clear(&self) {
        self.0
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .clear();
    }
}

impl std::fmt::Debug for Server {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Server")
            .field("duid", &hex::encode(&self.duid))
            .finish_non_exhaustive()
    }
}

/// What the server knows of the client from its message and its relays.
struct Client<'a> {
    duid: &'a [u8],
    hwaddr: Option<Vec<u8>>,
    remote_id: Option<Vec<u8>>,
    interface_id: Option<Vec<u8>>,
    classes: Vec<&'a Class>,
}

/// How an IA is being answered.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Mode {
    /// ADVERTISE: hold briefly.
    Advertise,
    /// REQUEST / Rapid Commit: bind, allocating if needed.
    Commit,
    /// RENEW / REBIND: extend the client's bindings only.
    Extend,
}

fn seconds(now: SystemTime) -> u64 {
    headend_util::time::since_epoch(now).as_secs()
}

impl Server {
    /// A server for `plan` identified by `duid` (option 2).
    pub(crate) fn new(plan: Plan, duid: Vec<u8>) -> Self {
        Self {
            plan: ArcSwap::from_pointee(plan),
            duid,
            buckets: Mutex::new(Buckets::new(65_536)),
            cursors: Cursors::default(),
        }
    }

    /// Forgets where allocation stood in each pool: called when a batch's
    /// transaction is rolled back, since its claims never happened.
    pub(crate) fn forget_cursors(&self) {
        self.cursors.clear();
    }

    /// The configuration in effect.
    pub(crate) fn plan(&self) -> Arc<Plan> {
        self.plan.load_full()
    }

    /// Puts a new configuration in effect from the next request on.
    pub(crate) fn install(&self, plan: Plan) {
        self.plan.store(Arc::new(plan));
    }

    /// The server DUID.
    pub fn duid(&self) -> &[u8] {
        &self.duid
    }

    /// Decides the answer to `req` (RFC 8415 §18.3), writing bindings
    /// through `tx`; the caller sends the reply only after `tx` is durable.
    pub fn handle(
        &self,
        req: &Request,
        ctx: &Ingress,
        tx: &mut dyn Lease6Tx,
        now: SystemTime,
    ) -> Result<Outcome, StoreError> {
        let plan = self.plan();
        let m = &req.message;
        let client_id = m.options.get(opt::CLIENTID);
        let server_id = m.options.get(opt::SERVERID);
        // §16: which identifiers each message must (not) carry.
        match m.kind {
            msg::SOLICIT | msg::CONFIRM | msg::REBIND => {
                if client_id.is_none() || server_id.is_some() {
                    return Ok(Outcome::Silent(Silence::BadIdentifiers));
                }
            }
            msg::REQUEST | msg::RENEW | msg::RELEASE | msg::DECLINE => {
                if client_id.is_none() {
                    return Ok(Outcome::Silent(Silence::BadIdentifiers));
                }
                if server_id != Some(self.duid.as_slice()) {
                    return Ok(Outcome::Silent(Silence::OtherServer));
                }
            }
            _ => {
                if server_id.is_some_and(|s| s != self.duid.as_slice()) {
                    return Ok(Outcome::Silent(Silence::OtherServer));
                }
            }
        }
        let duid = client_id.unwrap_or_default();
        if !duid.is_empty() {
            let t = headend_util::time::since_epoch(now).as_secs_f64();
            let mut b = self.buckets.lock().unwrap_or_else(PoisonError::into_inner);
            if !b.allow(duid, t, plan.rate.0, plan.rate.1) {
                return Ok(Outcome::Silent(Silence::RateLimited));
            }
        }
        let client = self.client(&plan, req, duid);
        let mut out = Options::default();
        out.push(opt::SERVERID, self.duid.clone());
        if let Some(c) = client_id {
            out.push(opt::CLIENTID, c.to_vec());
        }
        // §18.3.2 and friends: a unicast request without option 12 in
        // effect is answered with UseMulticast only.
        if req.relays.is_empty()
            && ctx.unicast
            && plan.unicast.is_none()
            && matches!(
                m.kind,
                msg::REQUEST | msg::RENEW | msg::RELEASE | msg::DECLINE
            )
        {
            out.push(
                opt::STATUS_CODE,
                wire::status_data(status::USE_MULTICAST, "send to ff02::1:2"),
            );
            return Ok(self.reply(req, ctx, msg::REPLY, out, Vec::new()));
        }
        let subnet = select_subnet(&plan, req, ctx, &client);
        let now_s = seconds(now);
        let Ok(requests) = wire::ias(&m.options) else {
            return Ok(Outcome::Silent(Silence::Nothing));
        };
        match m.kind {
            msg::SOLICIT | msg::REQUEST | msg::RENEW | msg::REBIND => {
                let Some(subnet) = subnet else {
                    return Ok(Outcome::Silent(Silence::NoSubnet));
                };
                let rapid =
                    m.kind == msg::SOLICIT && plan.rapid_commit && m.options.has(opt::RAPID_COMMIT);
                let mode = match m.kind {
                    msg::SOLICIT if !rapid => Mode::Advertise,
                    msg::SOLICIT | msg::REQUEST => Mode::Commit,
                    _ => Mode::Extend,
                };
                if mode != Mode::Extend
                    && self.over_relay_cap(subnet, &client, &requests, tx, now_s)?
                {
                    return Ok(Outcome::Silent(Silence::RelayCap));
                }
                // Each IA's binding, read for all IAs at once; an IA named
                // twice is looked up when its turn comes, after the first
                // one's write.
                let keys: Vec<(Lease6Kind, u32)> = requests
                    .iter()
                    .map(|ia| (lease_kind(ia.kind), ia.iaid))
                    .collect();
                let distinct = keys.iter().enumerate().all(|(i, k)| !keys[..i].contains(k));
                let mut known = if distinct && keys.len() > 1 {
                    tx.lease6_by_client_ias(&subnet.name, client.duid, &keys)?
                        .into_iter()
                        .map(Some)
                        .collect()
                } else {
                    vec![None; keys.len()]
                };
                let mut granted = Vec::new();
                for (ia, known) in requests.iter().zip(known.drain(..)) {
                    let answer =
                        self.answer_ia(&plan, subnet, &client, ia, known, mode, m.kind, tx, now_s)?;
                    for e in &answer.entries {
                        if e.valid > 0 {
                            granted.push((e.address, e.prefix_len));
                        }
                    }
                    answer.encode_into(&mut out);
                }
                // RFC 4704 §4.2: a client that sent option 39 gets one back,
                // naming what the server will do.
                if let (Some(ddns), Some(Ok(fqdn))) = (
                    &plan.ddns,
                    m.options
                        .get(opt::CLIENT_FQDN)
                        .map(crate::ddns::parse_client_fqdn),
                ) {
                    let name = granted
                        .iter()
                        .find(|(_, len)| *len == 128)
                        .and_then(|(a, _)| {
                            let class = client.classes.first().map(|c| c.name.as_str());
                            ddns.label_for(class, duid, *a, Some(&fqdn))
                        });
                    let name = name.map(|l| ddns.fqdn(&l));
                    out.push(opt::CLIENT_FQDN, ddns.reply_option(&fqdn, name.as_deref()));
                }
                if rapid {
                    out.push(opt::RAPID_COMMIT, Vec::new());
                }
                if let Some(u) = plan.unicast {
                    out.push(opt::UNICAST, u.octets().to_vec());
                }
                let options = merged_options(&plan, Some(subnet), &client);
                add_options(
                    &mut out,
                    &options,
                    &m.options,
                    m.kind == msg::SOLICIT && !rapid,
                );
                let kind = if mode == Mode::Advertise {
                    msg::ADVERTISE
                } else {
                    msg::REPLY
                };
                Ok(self.reply(req, ctx, kind, out, granted))
            }
            msg::RELEASE | msg::DECLINE => {
                // §18.3.7, §18.3.8: end (or quarantine) each binding the
                // client names; an IA the server has no binding for gets
                // NoBinding.
                let (state, until, what) = if m.kind == msg::RELEASE {
                    (LeaseState::Released, now_s, "released")
                } else {
                    (LeaseState::Declined, now_s + plan.quarantine, "declined")
                };
                for ia in &requests {
                    let kind = lease_kind(ia.kind);
                    let mut missing = ia.entries.is_empty();
                    for e in &ia.entries {
                        match tx.lease6_at(e.address)? {
                            Some(mut l)
                                if l.duid == duid
                                    && l.iaid == ia.iaid
                                    && l.kind == kind
                                    && l.state != LeaseState::Declined =>
                            {
                                l.state = state;
                                l.expires = until;
                                l.preferred = until.min(l.preferred);
                                tx.lease6_put(&l)?;
                            }
                            _ => missing = true,
                        }
                    }
                    if missing {
                        Ia {
                            entries: Vec::new(),
                            status: Some((status::NO_BINDING, "no binding for this IA".into())),
                            ..ia.clone()
                        }
                        .encode_into(&mut out);
                    }
                }
                out.push(opt::STATUS_CODE, wire::status_data(status::SUCCESS, what));
                Ok(self.reply(req, ctx, msg::REPLY, out, Vec::new()))
            }
            msg::CONFIRM => {
                // §18.3.3: are the client's addresses on its link?
                let addrs: Vec<Ipv6Addr> = requests
                    .iter()
                    .filter(|ia| ia.kind == IaKind::Na)
                    .flat_map(|ia| ia.entries.iter().map(|e| e.address))
                    .collect();
                let Some(subnet) = subnet else {
                    return Ok(Outcome::Silent(Silence::NoSubnet));
                };
                if addrs.is_empty() {
                    return Ok(Outcome::Silent(Silence::Nothing));
                }
                let on_link = addrs.iter().all(|a| subnet.prefix.contains(a));
                let (code, text) = if on_link {
                    (status::SUCCESS, "all addresses on link")
                } else {
                    (status::NOT_ON_LINK, "not on this link")
                };
                out.push(opt::STATUS_CODE, wire::status_data(code, text));
                Ok(self.reply(req, ctx, msg::REPLY, out, Vec::new()))
            }
            _ => {
                // INFORMATION-REQUEST (§18.3.6): options only.
                let options = merged_options(&plan, subnet, &client);
                add_options(&mut out, &options, &m.options, false);
                Ok(self.reply(req, ctx, msg::REPLY, out, Vec::new()))
            }
        }
    }

    fn reply(
        &self,
        req: &Request,
        ctx: &Ingress,
        kind: u8,
        options: Options,
        granted: Vec<(Ipv6Addr, u8)>,
    ) -> Outcome {
        let inner = Message {
            kind,
            xid: req.message.xid,
            options,
        }
        .encode();
        Outcome::Reply(Reply {
            bytes: wire::wrap_reply(&req.relays, inner),
            to: ctx.source,
            kind,
            granted,
        })
    }

    /// The client's identity, link-layer address, relay ids and classes.
    fn client<'p>(&self, plan: &'p Plan, req: &Request, duid: &'p [u8]) -> Client<'p>
    where
        Self: 'p,
    {
        let inner = req.innermost();
        let relay_opt = |code| inner.and_then(|r| r.options.get(code)).map(<[u8]>::to_vec);
        // RFC 6939 option 79 (type, address), else the DUID's own.
        let hwaddr = relay_opt(opt::CLIENT_LINKLAYER_ADDR)
            .and_then(|d| d.get(2..).map(<[u8]>::to_vec))
            .filter(|m| !m.is_empty())
            .or_else(|| duid_hwaddr(duid));
        let remote_id = relay_opt(opt::REMOTE_ID).and_then(|d| d.get(4..).map(<[u8]>::to_vec));
        let interface_id = relay_opt(opt::INTERFACE_ID);
        let o = &req.message.options;
        if let Some(r) = inner {
            tracing::debug!(
                link = %r.link_address,
                interface_id = %hex::encode(interface_id.as_deref().unwrap_or_default()),
                remote_id = %hex::encode(remote_id.as_deref().unwrap_or_default()),
                "DHCPv6 relayed request"
            );
        }
        let classes = plan
            .classes
            .iter()
            .filter(|c| class_matches(c, o, remote_id.as_deref(), interface_id.as_deref()))
            .collect();
        Client {
            duid,
            hwaddr,
            remote_id,
            interface_id,
            classes,
        }
    }

    /// Caps on clients per relay remote-id / interface-id (the subnet's and
    /// the client's classes' both apply): true when this client is new
    /// behind an id whose cap of other live clients is reached. A client
    /// that holds a live binding here is never capped.
    fn over_relay_cap(
        &self,
        subnet: &Subnet,
        client: &Client<'_>,
        requests: &[Ia],
        tx: &mut dyn Lease6Tx,
        now: u64,
    ) -> Result<bool, StoreError> {
        let cap = |sub: Option<u32>, f: fn(&Class) -> Option<u32>| {
            client.classes.iter().filter_map(|c| f(c)).chain(sub).min()
        };
        let mut over = false;
        if let (Some(rid), Some(max)) = (
            client.remote_id.as_deref(),
            cap(subnet.cap_remote, |c| c.cap_remote),
        ) {
            over |= tx.lease6_clients_by_remote_id(&subnet.name, rid, client.duid, now)?
                >= u64::from(max);
        }
        if !over
            && let (Some(iid), Some(max)) = (
                client.interface_id.as_deref(),
                cap(subnet.cap_interface, |c| c.cap_interface),
            )
        {
            over |= tx.lease6_clients_by_interface_id(&subnet.name, iid, client.duid, now)?
                >= u64::from(max);
        }
        if !over {
            return Ok(false);
        }
        for ia in requests {
            if let Some(l) =
                tx.lease6_by_client(&subnet.name, lease_kind(ia.kind), client.duid, ia.iaid)?
                && l.is_live(now)
                && matches!(l.state, LeaseState::Bound | LeaseState::Offered)
            {
                return Ok(false);
            }
        }
        Ok(true)
    }

    /// One IA's answer: its bindings found, extended or allocated.
    /// `known` is the IA's binding when the caller read it already.
    #[allow(clippy::too_many_arguments)]
    fn answer_ia(
        &self,
        plan: &Plan,
        subnet: &Subnet,
        client: &Client<'_>,
        ia: &Ia,
        known: Option<Option<Lease6>>,
        mode: Mode,
        kind_msg: u8,
        tx: &mut dyn Lease6Tx,
        now: u64,
    ) -> Result<Ia, StoreError> {
        let kind = lease_kind(ia.kind);
        let (pools, none_status) = match ia.kind {
            IaKind::Na => (
                &subnet.pools,
                (status::NO_ADDRS_AVAIL, "no addresses available"),
            ),
            IaKind::Pd => (
                &subnet.pd_pools,
                (status::NO_PREFIX_AVAIL, "no prefixes available"),
            ),
        };
        // A reservation of the config file, else one made through the
        // admin API (read inside this transaction, so a new one applies at
        // the client's next request).
        let reserved = match find_reservation(subnet, client) {
            Some(r) => match ia.kind {
                IaKind::Na => r.address.map(|a| (a, 128)),
                IaKind::Pd => r.prefix,
            },
            None => tx
                .api_reservation6(
                    &subnet.name,
                    client.duid,
                    client.hwaddr.as_deref(),
                    client.remote_id.as_deref(),
                )?
                .and_then(|r| match ia.kind {
                    IaKind::Na => r.address.map(|a| (a, 128)),
                    IaKind::Pd => r.prefix,
                }),
        };
        let class = client.classes.first().map(|c| c.name.clone());
        let mut template = Lease6 {
            address: Ipv6Addr::UNSPECIFIED,
            prefix_len: 128,
            kind,
            subnet: subnet.name.clone(),
            duid: client.duid.to_vec(),
            iaid: ia.iaid,
            hwaddr: client.hwaddr.clone(),
            state: LeaseState::Offered,
            preferred: 0,
            expires: 0,
            class,
            remote_id: client.remote_id.clone(),
            interface_id: client.interface_id.clone(),
        };
        let (preferred, valid) = (subnet.preferred, subnet.valid);
        match mode {
            Mode::Advertise => {
                template.state = LeaseState::Offered;
                template.preferred = now + plan.offer_hold;
                template.expires = now + plan.offer_hold;
            }
            _ => {
                template.state = LeaseState::Bound;
                template.preferred = now + u64::from(preferred);
                template.expires = now + u64::from(valid);
            }
        }
        let existing = match known {
            Some(k) => k,
            None => tx.lease6_by_client(&subnet.name, kind, client.duid, ia.iaid)?,
        };
        let usable = |a: Ipv6Addr, len: u8| -> bool {
            if let Some((r, rl)) = reserved {
                return r == a && rl == len;
            }
            let n = u128::from(a);
            !subnet.reserved.contains(&n) && pools.iter().any(|p| p.contains(n) && p.len == len)
        };
        let mut chosen: Option<(Ipv6Addr, u8)> = None;
        // 1. A reservation (§ reservations by DUID, MAC or remote-id).
        if let Some((a, len)) = reserved {
            match tx.lease6_at(a)? {
                Some(l)
                    if l.duid != client.duid && l.is_live(now) && l.state == LeaseState::Bound =>
                {
                    tracing::warn!(address = %a, "DHCPv6 reserved address is bound to another client; not given");
                }
                _ => chosen = Some((a, len)),
            }
        }
        // 2. The client's own binding, if still in a pool here.
        if chosen.is_none()
            && let Some(l) = &existing
            && usable(l.address, l.prefix_len)
            && !(l.state == LeaseState::Released && mode == Mode::Extend)
        {
            chosen = Some((l.address, l.prefix_len));
        }
        if let Some((a, len)) = chosen {
            // A SOLICIT from a client that holds a live binding advertises
            // it without shortening it to an offer hold.
            let keep = mode == Mode::Advertise
                && existing.as_ref().is_some_and(|l| {
                    l.address == a && l.state == LeaseState::Bound && l.is_live(now)
                });
            if !keep {
                let mut lease = template.clone();
                lease.address = a;
                lease.prefix_len = len;
                tx.lease6_put(&lease)?;
            }
            return Ok(self.granted_ia(ia, a, len, preferred, valid, mode, plan));
        }
        if mode == Mode::Extend {
            // §18.3.4/§18.3.5: no binding; a hinted address that is free and
            // in a pool here is bound again (the client keeps it), else
            // NoBinding (RENEW) or zero lifetimes when off-link (REBIND).
            for e in &ia.entries {
                if usable(e.address, e.prefix_len) {
                    let taken = tx.lease6_at(e.address)?;
                    if taken
                        .as_ref()
                        .is_none_or(|l| !l.is_live(now) || l.duid == client.duid)
                    {
                        let mut lease = template.clone();
                        lease.address = e.address;
                        lease.prefix_len = e.prefix_len;
                        tx.lease6_put(&lease)?;
                        return Ok(self.granted_ia(
                            ia,
                            e.address,
                            e.prefix_len,
                            preferred,
                            valid,
                            mode,
                            plan,
                        ));
                    }
                }
            }
            if kind_msg == msg::REBIND
                && !ia.entries.is_empty()
                && ia
                    .entries
                    .iter()
                    .all(|e| !subnet.prefix.contains(&e.address) && ia.kind == IaKind::Na)
            {
                let mut out = ia.clone();
                for e in &mut out.entries {
                    e.preferred = 0;
                    e.valid = 0;
                }
                out.status = None;
                return Ok(out);
            }
            return Ok(Ia {
                entries: Vec::new(),
                status: Some((status::NO_BINDING, "no binding for this IA".into())),
                t1: 0,
                t2: 0,
                ..ia.clone()
            });
        }
        // 3. A new address or prefix from the pools: the hint first, then
        // the next never-used one, then the one expired longest ago.
        for e in &ia.entries {
            if usable(e.address, e.prefix_len)
                && (reserved.is_some()
                    || !tx.api_reserved6(&subnet.name, e.address, e.prefix_len)?)
            {
                let mut lease = template.clone();
                lease.address = e.address;
                lease.prefix_len = e.prefix_len;
                match tx.lease6_at(e.address)? {
                    None => {
                        if tx.lease6_claim(&lease)? {
                            return Ok(self.granted_ia(
                                ia,
                                e.address,
                                e.prefix_len,
                                preferred,
                                valid,
                                mode,
                                plan,
                            ));
                        }
                    }
                    Some(l) if !l.is_live(now) || l.duid == client.duid => {
                        tx.lease6_put(&lease)?;
                        return Ok(self.granted_ia(
                            ia,
                            e.address,
                            e.prefix_len,
                            preferred,
                            valid,
                            mode,
                            plan,
                        ));
                    }
                    Some(_) => {}
                }
            }
        }
        if reserved.is_none() {
            for pool in pools {
                if let Some(a) = allocate(pool, subnet, &template, &self.cursors, tx, now)? {
                    return Ok(self.granted_ia(ia, a, pool.len, preferred, valid, mode, plan));
                }
            }
        }
        Ok(Ia {
            entries: Vec::new(),
            status: Some((none_status.0, none_status.1.into())),
            t1: 0,
            t2: 0,
            ..ia.clone()
        })
    }

    #[allow(clippy::too_many_arguments)]
    fn granted_ia(
        &self,
        ia: &Ia,
        address: Ipv6Addr,
        prefix_len: u8,
        preferred: u32,
        valid: u32,
        mode: Mode,
        plan: &Plan,
    ) -> Ia {
        let _ = plan;
        let mut entries = vec![IaEntry {
            address,
            prefix_len,
            preferred,
            valid,
        }];
        // §18.3.4: addresses the client asked to extend that it no longer
        // has are returned with zero lifetimes.
        if mode == Mode::Extend {
            for e in &ia.entries {
                if e.address != address {
                    entries.push(IaEntry {
                        preferred: 0,
                        valid: 0,
                        ..e.clone()
                    });
                }
            }
        }
        Ia {
            kind: ia.kind,
            iaid: ia.iaid,
            // §21.4: T1 0.5 and T2 0.8 of the preferred lifetime.
            t1: preferred / 2,
            t2: preferred / 5 * 4,
            entries,
            status: None,
        }
    }
}

/// The next free address or prefix of `pool`, claimed for `template`:
/// the never-used ones in order (from the cursor, else from above the
/// highest row), then the one expired longest ago.
fn allocate(
    pool: &Pool,
    subnet: &Subnet,
    template: &Lease6,
    cursors: &Cursors,
    tx: &mut dyn Lease6Tx,
    now: u64,
) -> Result<Option<Ipv6Addr>, StoreError> {
    let (first, last) = (Ipv6Addr::from(pool.first), Ipv6Addr::from(pool.last));
    let hint = cursors.get(pool);
    let mut scanned = false;
    loop {
        let mut next = match hint {
            Some(n) if !scanned => Some(n),
            _ => {
                scanned = true;
                match tx.lease6_highest(first, last)? {
                    Some(h) => u128::from(h).checked_add(pool.step),
                    None => Some(pool.first),
                }
            }
        };
        if scanned && hint.is_some() && next == hint {
            // The query agrees with the cursor that just failed.
            break;
        }
        let mut tries = 0;
        while let Some(n) = next
            && n <= pool.last
            && tries < CLAIM_TRIES
        {
            tries += 1;
            if !subnet.reserved.contains(&n)
                && !tx.api_reserved6(&subnet.name, Ipv6Addr::from(n), pool.len)?
            {
                let mut lease = template.clone();
                lease.address = Ipv6Addr::from(n);
                lease.prefix_len = pool.len;
                if tx.lease6_claim(&lease)? {
                    cursors.set(pool, n.checked_add(pool.step));
                    return Ok(Some(lease.address));
                }
            }
            next = n.checked_add(pool.step);
        }
        if scanned {
            break;
        }
        scanned = true;
    }
    cursors.set(pool, None);
    if let Some(old) = tx.lease6_oldest_expired(first, last, now)?
        && !subnet.reserved.contains(&u128::from(old.address))
        && old.prefix_len == pool.len
        && !tx.api_reserved6(&subnet.name, old.address, pool.len)?
    {
        let mut lease = template.clone();
        lease.address = old.address;
        lease.prefix_len = pool.len;
        tx.lease6_put(&lease)?;
        return Ok(Some(old.address));
    }
    Ok(None)
}

fn lease_kind(k: IaKind) -> Lease6Kind {
    match k {
        IaKind::Na => Lease6Kind::Address,
        IaKind::Pd => Lease6Kind::Prefix,
    }
}

/// The link-layer address inside a DUID-LLT (type 1) or DUID-LL (type 3).
pub(crate) fn duid_hwaddr(duid: &[u8]) -> Option<Vec<u8>> {
    let rest = match duid.get(..2)? {
        [0, 1] => duid.get(8..)?,
        [0, 3] => duid.get(4..)?,
        _ => return None,
    };
    (!rest.is_empty()).then(|| rest.to_vec())
}

/// RFC 8415 §13.1: the link of a relayed client is its nearest relay's
/// link-address (when global), else that relay's interface-id; a direct
/// client's is the interface it arrived on. A subnet limited to classes
/// serves only clients of one of them.
fn select_subnet<'p>(
    plan: &'p Plan,
    req: &Request,
    ctx: &Ingress,
    client: &Client<'_>,
) -> Option<&'p Subnet> {
    let allowed = |s: &Subnet| {
        s.classes.is_empty() || client.classes.iter().any(|c| s.classes.contains(&c.name))
    };
    if let Some(r) = req.innermost() {
        let link = r.link_address;
        if !link.is_unspecified()
            && !link.is_unicast_link_local()
            && let Some(s) = plan
                .subnets
                .iter()
                .find(|s| s.prefix.contains(&link) && allowed(s))
        {
            return Some(s);
        }
        let id = r.options.get(opt::INTERFACE_ID)?;
        return plan
            .subnets
            .iter()
            .find(|s| s.interface_id.as_deref() == Some(id) && allowed(s));
    }
    let iface = ctx.interface.as_deref()?;
    plan.subnets
        .iter()
        .find(|s| s.interface.as_deref() == Some(iface) && allowed(s))
}

/// Length-prefixed (u16) items, as in options 15 and 16 (after 16's enterprise).
fn items(mut d: &[u8]) -> Vec<&[u8]> {
    let mut out = Vec::new();
    while let [a, b, rest @ ..] = d {
        let n = usize::from(u16::from_be_bytes([*a, *b]));
        let Some(item) = rest.get(..n) else { break };
        out.push(item);
        d = rest.get(n..).unwrap_or_default();
    }
    out
}

fn class_matches(
    c: &Class,
    o: &Options,
    remote_id: Option<&[u8]>,
    interface_id: Option<&[u8]>,
) -> bool {
    let mut any = false;
    if c.vendor_class.is_some() || c.enterprise.is_some() {
        any = true;
        let ok = o.all(opt::VENDOR_CLASS).any(|d| {
            let Some(ent) = d
                .get(..4)
                .map(|e| u32::from_be_bytes([e[0], e[1], e[2], e[3]]))
            else {
                return false;
            };
            c.enterprise.is_none_or(|want| want == ent)
                && c.vendor_class.as_ref().is_none_or(|want| {
                    items(d.get(4..).unwrap_or_default())
                        .iter()
                        .any(|i| i.starts_with(want))
                })
        });
        if !ok {
            return false;
        }
    }
    if let Some(want) = &c.user_class {
        any = true;
        if !o
            .all(opt::USER_CLASS)
            .any(|d| items(d).contains(&want.as_slice()))
        {
            return false;
        }
    }
    if !c.arch.is_empty() {
        any = true;
        let ok = o.get(opt::CLIENT_ARCH).is_some_and(|d| {
            d.chunks_exact(2)
                .any(|x| c.arch.contains(&u16::from_be_bytes([x[0], x[1]])))
        });
        if !ok {
            return false;
        }
    }
    if let Some(want) = &c.interface_id {
        any = true;
        if interface_id != Some(want.as_slice()) {
            return false;
        }
    }
    if let Some(want) = &c.remote_id {
        any = true;
        if remote_id != Some(want.as_slice()) {
            return false;
        }
    }
    any
}

fn find_reservation<'s>(subnet: &'s Subnet, client: &Client<'_>) -> Option<&'s Reservation> {
    let by = |k: &ResKey| match k {
        ResKey::Duid(d) => d.as_slice() == client.duid,
        ResKey::Mac(m) => client.hwaddr.as_deref() == Some(m.as_slice()),
        ResKey::RemoteId(r) => client.remote_id.as_deref() == Some(r.as_slice()),
    };
    subnet.reservations.iter().find(|r| by(&r.key))
}

/// The options for this client: reservation over classes (first match
/// first) over subnet over the section's.
fn merged_options(plan: &Plan, subnet: Option<&Subnet>, client: &Client<'_>) -> OptionSet {
    let mut set = plan.options.clone();
    if let Some(s) = subnet {
        set.extend(s.options.clone());
    }
    for c in client.classes.iter().rev() {
        set.extend(c.options.clone());
    }
    if let Some(r) = subnet.and_then(|s| find_reservation(s, client)) {
        set.extend(r.options.clone());
    }
    set
}

/// Adds the configured options: those the client's ORO asks for first, in
/// its order, then the rest. Preference (7) only in ADVERTISE.
fn add_options(out: &mut Options, set: &OptionSet, request: &Options, advertise: bool) {
    let oro = request.requested();
    let keep = |code: u16| code != opt::PREFERENCE || advertise;
    for code in &oro {
        for ((c, _), d) in set.range((*code, 0)..=(*code, u32::MAX)) {
            if keep(*c) {
                out.push(*c, d.clone());
            }
        }
    }
    for ((c, _), d) in set {
        if !oro.contains(c) && keep(*c) {
            out.push(*c, d.clone());
        }
    }
}
