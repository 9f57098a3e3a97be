// Tokens of an @upstash/ratelimit bucket taken from Redis in blocks, so that most requests are
// decided in memory and cost no Redis command (Upstash bills per command, a token-bucket check is
// four: EVALSHA, HMGET, HSET, PEXPIRE).
//
// Each function instance keeps, per identifier (a keyed hash of an IP address or anonymous id), a
// small credit of tokens:
//   - An identifier this instance has not seen in the last period gets a first block on credit:
//     its first `block` tokens are allowed without asking Redis, and are charged to the bucket with
//     the next block this instance takes for it. A visitor who sends a few events costs no limiter
//     command at all.
//   - When the credit does not cover a request, one call takes from the bucket what is owed, what
//     the request needs and a new block. If the bucket cannot give that much, a second call asks for
//     exactly what the request needs (forgiving what was owed: the bucket is empty anyway); if that
//     is refused too, the request is refused.
//   - A request another bucket refused gives its tokens back to the credit (no Redis call).
//   - After a refusal, requests of that identifier needing as much or more are refused in memory
//     until the time the refusal gave for a retry (the library's own ephemeral cache does the same
//     for a whole identifier; it is off here because it would also refuse the exact second ask).
// What this costs in precision: per instance and per period an identifier can get up to one block
// (default a tenth of the bucket) that is never charged, and up to one block can sit unused in an
// instance while the bucket refuses elsewhere. With `block` 0 every request asks Redis for exactly
// its cost, the plain use of the library.
import type { Ratelimit } from "@upstash/ratelimit";

export type Taken = { success: boolean; reset: number; fromRedis: boolean };

type Held = {
  credit: number;
  owed: number;
  onCredit: boolean;
  until: number;
  /** After a refusal: until when (epoch ms) a request needing `refusedNeed` or more is refused here. */
  refusedUntil: number;
  refusedNeed: number;
};

export class TokenBlocks {
  private readonly held = new Map<string, Held>();

  constructor(
    private readonly ratelimit: Pick<Ratelimit, "limit">,
    /** Tokens taken per Redis call beyond what the request needs; 0: exact, one call per request. */
    readonly block: number,
    /** How long a credit is kept (the bucket's period). */
    private readonly holdMs: number,
    private readonly now: () => number = Date.now,
  ) {}

  /** Takes `cost` tokens for `id`: from this instance's credit, else from the bucket in Redis. */
  async take(id: string, cost: number): Promise<Taken> {
    const h = this.entry(id);
    if (cost <= h.credit) {
      h.credit -= cost;
      if (h.onCredit) h.owed += cost;
      return { success: true, reset: h.until, fromRedis: false };
    }
    const need = cost - h.credit;
    if (need >= h.refusedNeed && this.now() < h.refusedUntil) {
      return { success: false, reset: h.refusedUntil, fromRedis: false };
    }
    // Synchronously claim what is here, so concurrent requests of the same id do not spend it twice.
    const local = h.credit;
    // Credit from the first block was never charged: what this request spends of it is owed too.
    const owed = h.owed + (h.onCredit ? local : 0);
    h.credit = 0;
    h.owed = 0;
    h.onCredit = false;
    const first = await this.ratelimit.limit(id, { rate: owed + need + this.block });
    if (first.success) {
      if (first.reason !== "timeout") h.credit += this.block;
      h.until = this.now() + this.holdMs;
      return { success: true, reset: first.reset, fromRedis: true };
    }
    if (owed + this.block > 0) {
      const exact = await this.ratelimit.limit(id, { rate: need });
      if (exact.success) return { success: true, reset: exact.reset, fromRedis: true };
    }
    h.credit += local;
    h.refusedUntil = first.reset;
    h.refusedNeed = need;
    return { success: false, reset: first.reset, fromRedis: true };
  }

  /** When a refused identifier may try again (computed by the caller from the bucket's state). */
  refusedUntil(id: string, at: number) {
    const h = this.held.get(id);
    if (h) h.refusedUntil = at;
  }

  /** Gives back tokens `take` allowed for a request that is refused by another bucket. */
  giveBack(id: string, cost: number) {
    const h = this.held.get(id);
    if (!h) return;
    h.credit += cost;
    if (h.onCredit) h.owed = Math.max(0, h.owed - cost);
  }

  private entry(id: string): Held {
    const t = this.now();
    let h = this.held.get(id);
    if (!h || h.until <= t) {
      if (this.held.size >= 10_000) this.sweep(t);
      h = {
        credit: this.block,
        owed: 0,
        onCredit: this.block > 0,
        until: t + this.holdMs,
        refusedUntil: 0,
        refusedNeed: Infinity,
      };
      this.held.set(id, h);
    }
    return h;
  }

  private sweep(t: number) {
    for (const [id, h] of this.held) if (h.until <= t) this.held.delete(id);
    // Still full (10k live identifiers in one instance): drop the oldest half; they start over.
    if (this.held.size >= 10_000) {
      let n = 0;
      for (const id of this.held.keys()) if (n++ < 5_000) this.held.delete(id);
    }
  }
}
