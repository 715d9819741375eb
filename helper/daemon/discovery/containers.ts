// Containers by the words people type for them: a name, or an id's first
// digits. A name two engines use is refused rather than guessed, and one that
// matches nothing says which containers there are.
import { ResponseError } from 'vscode-jsonrpc/node';
import { ErrorCodes } from '../../common/protocol';
import type { EngineContainer } from './engines';

/**
 * The running container a name or id prefix means. A name two engines use
 * (root's and a user's rootless one, say) is refused rather than guessed.
 */
export function resolveContainer(containers: EngineContainer[], ref: string): EngineContainer {
  const running = containers.filter((c) => c.pid !== undefined);
  const byName = running.filter((c) => c.name === ref);
  const matches = byName.length ? byName : ref.length >= 4 ? running.filter((c) => c.id.startsWith(ref)) : [];
  if (matches.length === 1) return matches[0];
  if (matches.length === 0) {
    const other = containers.find((c) => c.name === ref || (ref.length >= 4 && c.id.startsWith(ref)));
    const engine = other && `${other.engine}${other.engineUid ? `, uid ${other.engineUid}` : ''}`;
    throw new ResponseError(
      ErrorCodes.NotFound,
      !other
        ? `no running container is called ${ref}${
            running.length
              ? ` (running: ${running
                  .map((c) => c.name)
                  .slice(0, 10)
                  .join(', ')})`
              : ''
          }`
        : other.state === 'running'
          ? // A rootless engine speaks only for processes in its user's own user namespaces.
            `container ${ref} (${engine}) says it is running, but its process is not in a user namespace its engine's user made`
          : `container ${ref} (${engine}) is ${other.state}, not running`,
    );
  }
  throw new ResponseError(
    ErrorCodes.Conflict,
    `${ref} could be any of ${matches.map((c) => `${c.name} ${c.id.slice(0, 12)} (${c.engine}${c.engineUid ? `, uid ${c.engineUid}` : ''})`).join(', ')}: name it by id`,
  );
}
