// The local auth stand-in's JWT signing keys, kept the way hosted Supabase Auth keeps them: an
// ES256 key pair of the stand-in's own, generated on first start, with a `kid`; rotation makes a new
// key current and keeps the old one published ("previously used") until it is revoked.
//
// Files under the key directory (.stack/auth by default; gitignored, private key never leaves it):
//   signing-keys.json     the key pairs with their status (mode 600)
//   jwks.json             what /auth/v1/.well-known/jwks.json serves: the public keys
//   postgrest-jwks.json   PostgREST's jwt-secret: the public keys plus the legacy HS256 secret as an
//                         `oct` key, as the Supabase CLI gives PostgREST (`@file` in its config)
//
//   deno run --allow-read --allow-write --allow-env scripts/auth-keys.ts init <dir>
// creates the key pair if there is none and (re)writes the two public files; the legacy secret comes
// from JWT_SECRET. scripts/stack.sh runs it before PostgREST starts; the stand-in uses the same code.
import { calculateJwkThumbprint, exportJWK, generateKeyPair, type JWK } from "jose";

export type KeyStatus = "current" | "previous";
export type StoredKey = { kid: string; status: KeyStatus; created_at: string; private_jwk: JWK };
export type PublicJwk = JWK & { kid: string; alg: "ES256"; use: "sig"; key_ops: ["verify"] };

const ALG = "ES256";

/** The public half of a stored key, as GoTrue publishes it. */
export function publicJwk(k: StoredKey): PublicJwk {
  const { kty, crv, x, y } = k.private_jwk;
  return { kty, crv, x, y, kid: k.kid, alg: ALG, use: "sig", key_ops: ["verify"] } as PublicJwk;
}

async function newKey(): Promise<StoredKey> {
  const { privateKey } = await generateKeyPair(ALG, { extractable: true });
  const jwk = await exportJWK(privateKey);
  // A kid that names the key itself (RFC 7638 thumbprint), so no two keys share one.
  const kid = await calculateJwkThumbprint({ kty: jwk.kty, crv: jwk.crv, x: jwk.x, y: jwk.y });
  return { kid, status: "current", created_at: new Date().toISOString(), private_jwk: jwk };
}

export class Keyring {
  keys: StoredKey[] = [];
  constructor(readonly dir: string, private readonly legacySecret: string) {}

  private get file() {
    return `${this.dir}/signing-keys.json`;
  }

  /** Loads the keys, generating the first one when there is none. Idempotent. */
  async load(): Promise<this> {
    await Deno.mkdir(this.dir, { recursive: true, mode: 0o700 });
    try {
      this.keys = JSON.parse(await Deno.readTextFile(this.file)).keys;
    } catch (e) {
      if (!(e instanceof Deno.errors.NotFound)) throw e;
      this.keys = [await newKey()];
    }
    if (!this.keys.some((k) => k.status === "current")) throw new Error(`${this.file}: no current signing key`);
    await this.save();
    return this;
  }

  current(): StoredKey {
    return this.keys.find((k) => k.status === "current")!;
  }

  /** The JWKS every verifier reads: the current key and the previously used ones. */
  jwks(): { keys: PublicJwk[] } {
    return { keys: this.keys.map(publicJwk) };
  }

  /** A new current key; the old one stays published until revoked, so its tokens stay valid. */
  async rotate(): Promise<StoredKey> {
    for (const k of this.keys) k.status = "previous";
    const fresh = await newKey();
    this.keys.push(fresh);
    await this.save();
    return fresh;
  }

  /** Removes a previously used key: tokens it signed are refused from then on. */
  async revoke(kid: string): Promise<boolean> {
    const k = this.keys.find((x) => x.kid === kid);
    if (!k) return false;
    if (k.status === "current") throw new Error("the current key cannot be revoked: rotate first");
    this.keys = this.keys.filter((x) => x.kid !== kid);
    await this.save();
    return true;
  }

  private async save() {
    await Deno.writeTextFile(this.file, JSON.stringify({ keys: this.keys }, null, 2) + "\n", { mode: 0o600 });
    await Deno.writeTextFile(`${this.dir}/jwks.json`, JSON.stringify(this.jwks()) + "\n");
    const legacy = this.legacySecret
      ? [{ kty: "oct", k: btoa(this.legacySecret).replace(/\+/g, "-").replace(/\//g, "_").replace(/=+$/, "") }]
      : [];
    const forPostgrest = { keys: [...this.jwks().keys, ...legacy] };
    // Written then renamed, so PostgREST never reads half a file on a reload.
    const tmp = `${this.dir}/postgrest-jwks.json.tmp`;
    await Deno.writeTextFile(tmp, JSON.stringify(forPostgrest) + "\n", { mode: 0o600 });
    await Deno.rename(tmp, `${this.dir}/postgrest-jwks.json`);
  }
}

if (import.meta.main) {
  const [cmd, dir] = Deno.args;
  if (cmd !== "init" || !dir) {
    console.error("usage: auth-keys.ts init <dir>   (legacy secret from JWT_SECRET)");
    Deno.exit(2);
  }
  const ring = await new Keyring(dir, Deno.env.get("JWT_SECRET") ?? "").load();
  console.log(`signing key ${ring.current().kid} (${ring.keys.length} published)`);
}
