/**
 * Endpoint health shared by the isolates of a threaded pool. When an isolate
 * backs an endpoint off, it publishes the failure count and the time the
 * back-off ends; when a probe succeeds, it publishes that the endpoint is up.
 * Every other isolate copies the news into its own `Health` on its next
 * wake-up or heartbeat, so it avoids the endpoint without paying for the
 * failed connects itself. Leasing reads only the local `Health`: no shared
 * memory on that path.
 *
 * @module
 */
import type { Clock } from "../core/clock.ts";
import type { Health } from "../endpoints/health.ts";
import { HEALTH_GEN, type Memory } from "./memory.ts";
import type { Member } from "./member.ts";

/**
 * Links each endpoint's local health to the shared memory.
 *
 * @param member The isolate's membership.
 * @param healths The local health of each endpoint, in endpoint order.
 * @param clock The pool's clock (local retry times are on it).
 */
export function shareHealth(member: Member, healths: readonly Health[], clock: Clock): void {
  const m = member.memory;
  healths.forEach((health, e) => {
    health.shared = {
      down: (failures, retryInMs) => {
        Atomics.store(m.i64, m.downUntil(e), BigInt(Math.ceil(member.now() + retryInMs)));
        Atomics.store(m.i32, m.failures(e), failures);
        publish(m, member);
      },
      up: () => {
        Atomics.store(m.i32, m.failures(e), 0);
        Atomics.store(m.i64, m.downUntil(e), 0n);
        publish(m, member);
      },
    };
  });
  let seen = -1;
  const read = () => {
    const gen = Atomics.load(m.i32, HEALTH_GEN);
    if (gen === seen) return;
    seen = gen;
    adoptAll(m, member.now(), healths, clock);
  };
  read();
  member.onWake(read);
}

function publish(m: Memory, member: Member): void {
  Atomics.add(m.i32, HEALTH_GEN, 1);
  member.signal();
}

// Copies what other isolates published into each local health.
function adoptAll(m: Memory, now: number, healths: readonly Health[], clock: Clock): void {
  healths.forEach((health, e) => {
    const failures = Atomics.load(m.i32, m.failures(e));
    const until = Number(Atomics.load(m.i64, m.downUntil(e)));
    if (failures > 0 && until > now) {
      if (health.failures < failures) health.adopt(failures, clock.now() + (until - now));
    } else if (failures === 0 && health.failures > 0 && until === 0) {
      health.adopt(0, 0);
    }
  });
}
