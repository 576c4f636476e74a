// An OpenID Connect provider for the e2e tests: node's `oidc-provider`
// (installed by scripts/test.sh into target/oidc-node) on 127.0.0.1 with
// the TLS certificate the test made.
//
// Usage: node provider.mjs CERT KEY STATE
// Prints "listening PORT" once the socket is bound. The provider itself is
// built at the first request, from STATE (JSON), which the test writes:
//   {"redirect_uri": "...", "login": "ada", "groups": {"ada": ["netops"]},
//    "forge": null | "nonce" | "key" | "expired" | "aud" | "rotate"}
// STATE is read again at every use: `login` is the account the next
// interaction logs in (no browser: the interaction finishes at once),
// `groups` the claim userinfo releases, `forge` rewrites the ID token of
// the next token answers (wrong nonce, signed by another key, expired,
// wrong audience; "rotate": signed by a new key k2 that the JWKS then
// publishes too) so that the relying party's checks meet real flows.
import fs from 'node:fs';
import https from 'node:https';
import * as jose from 'jose';
import Provider from 'oidc-provider';

const [certFile, keyFile, stateFile] = process.argv.slice(2);
const readState = () => JSON.parse(fs.readFileSync(stateFile, 'utf8'));

const server = https.createServer({
  cert: fs.readFileSync(certFile),
  key: fs.readFileSync(keyFile),
});
await new Promise((resolve) => server.listen(0, '127.0.0.1', resolve));
const port = server.address().port;
const issuer = `https://127.0.0.1:${port}`;

const signing = await jose.generateKeyPair('RS256', { extractable: true });
const foreign = await jose.generateKeyPair('RS256', { extractable: true });
const rotated = await jose.generateKeyPair('RS256', { extractable: true });
const jwk = { ...(await jose.exportJWK(signing.privateKey)), kid: 'k1', alg: 'RS256', use: 'sig' };
const rotatedPublic = { ...(await jose.exportJWK(rotated.publicKey)), kid: 'k2', alg: 'RS256', use: 'sig' };

async function forge(idToken, mode) {
  const claims = jose.decodeJwt(idToken);
  const now = Math.floor(Date.now() / 1000);
  let key = signing.privateKey;
  let kid = 'k1';
  if (mode === 'rotate') {
    key = rotated.privateKey;
    kid = 'k2';
  }
  if (mode === 'nonce') claims.nonce = 'not-the-nonce-of-this-login';
  if (mode === 'key') key = foreign.privateKey;
  if (mode === 'expired') {
    claims.exp = now - 3600;
    claims.iat = now - 7200;
  }
  if (mode === 'aud') claims.aud = 'another-client';
  return new jose.SignJWT(claims).setProtectedHeader({ alg: 'RS256', kid }).sign(key);
}

function build() {
  const state = readState();
  const provider = new Provider(issuer, {
    clients: [
      {
        client_id: 'headend',
        client_secret: 'e2e-client-secret',
        redirect_uris: [state.redirect_uri],
        grant_types: ['authorization_code', 'refresh_token'],
        response_types: ['code'],
        token_endpoint_auth_method: 'client_secret_basic',
      },
    ],
    jwks: { keys: [jwk] },
    cookies: { keys: ['e2e-cookie-key'] },
    claims: {
      openid: ['sub'],
      profile: ['preferred_username', 'name'],
      email: ['email'],
      groups: ['groups'],
    },
    scopes: ['openid', 'profile', 'email', 'groups', 'offline_access'],
    features: { devInteractions: { enabled: false } },
    pkce: { required: () => true },
    interactions: { url: (ctx, interaction) => `/interaction/${interaction.uid}` },
    async findAccount(ctx, id) {
      return {
        accountId: id,
        async claims() {
          return {
            sub: id,
            preferred_username: id,
            name: id,
            email: `${id}@example.test`,
            groups: readState().groups[id] ?? [],
          };
        },
      };
    },
  });
  provider.proxy = false;
  provider.use(async (ctx, next) => {
    await next();
    // The tokens it hands out, for a test to look for them where they
    // must not be (headend's database).
    if (ctx.path === '/token' && ctx.status === 200 && ctx.body && ctx.body.access_token) {
      const t = [ctx.body.access_token, ctx.body.refresh_token].filter(Boolean);
      fs.appendFileSync('issued.txt', t.map((x) => `${x}\n`).join(''));
    }
    const mode = readState().forge;
    // After a rotation the JWKS publishes the new key beside the old one.
    if (mode === 'rotate' && ctx.path === '/jwks' && ctx.status === 200) {
      ctx.body = { keys: [...ctx.body.keys, rotatedPublic] };
    }
    if (mode && ctx.path === '/token' && ctx.status === 200 && ctx.body && ctx.body.id_token) {
      ctx.body = { ...ctx.body, id_token: await forge(ctx.body.id_token, mode) };
    }
  });
  const callback = provider.callback();
  return async (req, res) => {
    if (req.url.startsWith('/interaction/')) {
      try {
        const details = await provider.interactionDetails(req, res);
        if (details.prompt.name === 'login') {
          await provider.interactionFinished(
            req,
            res,
            { login: { accountId: readState().login } },
            { mergeWithLastSubmission: false },
          );
        } else {
          const grant = new provider.Grant({
            accountId: details.session.accountId,
            clientId: details.params.client_id,
          });
          const d = details.prompt.details;
          if (d.missingOIDCScope) grant.addOIDCScope(d.missingOIDCScope.join(' '));
          if (d.missingOIDCClaims) grant.addOIDCClaims(d.missingOIDCClaims);
          if (d.missingResourceScopes) {
            for (const [indicator, scopes] of Object.entries(d.missingResourceScopes)) {
              grant.addResourceScope(indicator, scopes.join(' '));
            }
          }
          const grantId = await grant.save();
          await provider.interactionFinished(
            req,
            res,
            { consent: { grantId } },
            { mergeWithLastSubmission: true },
          );
        }
      } catch (e) {
        res.statusCode = 400;
        res.end(String(e));
      }
      return;
    }
    callback(req, res);
  };
}

let handler;
server.on('request', (req, res) => {
  handler ??= build();
  handler(req, res);
});
console.log(`listening ${port}`);
