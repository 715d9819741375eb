// Container hints from cgroup paths as each runtime writes them.
import assert from 'node:assert/strict';
import { it } from 'node:test';
import { containerFromCgroup } from '../../helper/daemon/discovery/hints';

const id = 'a'.repeat(12) + '0123456789abcdef'.repeat(3) + 'b'.repeat(4);

it('recognizes docker, kubernetes, podman, containerd, nspawn and lxc', () => {
  assert.deepEqual(containerFromCgroup(`0::/system.slice/docker-${id}.scope\n`), {
    runtime: 'docker',
    id: id.slice(0, 12),
  });
  assert.deepEqual(containerFromCgroup(`12:pids:/docker/${id}\n0::/\n`), { runtime: 'docker', id: id.slice(0, 12) });
  assert.deepEqual(
    containerFromCgroup(
      `0::/kubepods.slice/kubepods-besteffort.slice/kubepods-besteffort-pod1.slice/cri-containerd-${id}.scope\n`,
    ),
    { runtime: 'kubernetes', id: id.slice(0, 12) },
  );
  assert.deepEqual(
    containerFromCgroup(`0::/user.slice/user-1000.slice/user@1000.service/user.slice/libpod-${id}.scope/container\n`),
    { runtime: 'podman', id: id.slice(0, 12) },
  );
  assert.deepEqual(containerFromCgroup(`0::/system.slice/cri-containerd-${id}.scope\n`), {
    runtime: 'containerd',
    id: id.slice(0, 12),
  });
  assert.deepEqual(containerFromCgroup('0::/machine.slice/systemd-nspawn@debian\\x2dbox.service/payload\n'), {
    runtime: 'nspawn',
    id: 'debian-box',
    name: 'debian-box',
  });
  assert.deepEqual(containerFromCgroup('0::/lxc.payload.web1/init.scope\n'), {
    runtime: 'lxc',
    id: 'web1',
    name: 'web1',
  });
});

it('says nothing for host cgroups', () => {
  for (const f of ['0::/\n', '0::/user.slice/user-0.slice/session-1.scope\n', '0::/system.slice/nsxd.service\n', ''])
    assert.equal(containerFromCgroup(f), undefined);
});
