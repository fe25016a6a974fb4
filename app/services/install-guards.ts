// What an install or a change must satisfy before any job starts: a new stack name, and an admin's explicit
// confirmation of what a version reaches on the host.
import { listInstalled } from '../adapters/abra/app-env.ts';
import type { Caller } from './app-access.ts';
import { UserFacingError } from '../errors.ts';
import { describeReach, type HostReach } from './host-reach.ts';

/** An admin has not ticked “I understand what this reaches on the host” yet: a form asks again. */
export class HostReachUnconfirmed extends UserFacingError {}

/** A version that reaches the host needs an admin, who must say so explicitly; the refusal names what it reaches. */
export function guardReach(caller: Caller, reach: HostReach[], confirmed: boolean | undefined, what: string): void {
  if (!reach.length) return;
  if (caller.role !== 'admin') throw new UserFacingError(`${what} would reach the host: ${describeReach(reach)}. Only an admin may do this.`, 403);
  if (!confirmed) throw new HostReachUnconfirmed(`${what} would reach the host: ${describeReach(reach)}. To go ahead, tick “I understand what this reaches on the host”.`, 409);
}

/** An install's stack must be new: not another installed app's (abra cuts names to 45 characters), nor a live stack. */
export async function newStackOnly(abraDir: string, stackExists: (stack: string) => Promise<boolean>, domain: string, stack: string): Promise<void> {
  const twin = listInstalled(abraDir).find((a) => a.stack === stack);
  if (twin) throw new UserFacingError(`${domain} would get the stack name ${stack}, which ${twin.domain} already has (abra cuts stack names to 45 characters). Choose another, shorter domain.`, 409);
  let live: boolean;
  try {
    live = await stackExists(stack);
  } catch (err) {
    throw new UserFacingError(`The node cannot ask Docker whether a stack named ${stack} exists (${(err as Error).message}), so it does not install now.`, 503);
  }
  if (live) throw new UserFacingError(`A stack named ${stack} already runs on this swarm, deployed from elsewhere: installing ${domain} would take it over. Choose another domain.`, 409);
}
