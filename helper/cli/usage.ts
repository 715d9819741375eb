// What `nsx --help` prints: every verb, in the words of the tools each is like.
export const USAGE = `usage: nsx [--socket PATH | --host NAME] COMMAND
  list [--json] [-t TYPE] [-o COLUMNS] [-n] [-r] [--rescan]
                                   every namespace, like lsns (NS TYPE NPROCS PID USER NSFS CONTAINER COMMAND);
                                   -o/--output as lsns (also +COL to add one), -n/--noheadings, -r/--raw;
                                   --rescan: read all of /proc now, not the model process events keep
                                   (shares a scan that runs; soon after one, gets it with the events since)
  tree [--rescan]                  the user-namespace hierarchy and what each owns
  containers [--json]              every container the engines (docker, podman, containerd) report
  details TYPE:INODE               what a namespace holds (hostname, interfaces, mounts, maps ...)
  enter PID|CONTAINER [-t TYPE,...] [--root] [--fresh-proc] [-- COMMAND ARGS...]
                                   a shell or command in the namespaces of a process, or of a
                                   container with its environment (all namespaces by default);
                                   as nsenter: --target PID, -n/--net -p/--pid -m/--mount -u/--uts
                                   -i/--ipc -U/--user -C/--cgroup -T/--time, -a/--all
  enter --pin TYPE/NAME [--root] [-- COMMAND ARGS...]
  isolate [-t TYPE,...] [--hostname NAME] [--root] [-- COMMAND ARGS...]
                                   a shell or command in fresh namespaces
  attach SESSION                   a shell of yours again, after nsxd restarted (it says the number)
  pin PID TYPE NAME                keep the TYPE namespace of PID alive as NAME
  pin --new TYPE NAME              a new, empty namespace held by its pin
  unpin TYPE NAME [--force]        --force: also an ip netns name another tool made (root, admins)
  pins [--json]
  ls TARGET:PATH [--json] [--root]  a folder (or file) of a container, process or namespace, as ls -l;
                                   TARGET: a container's name or id, a PID, pin:NAME (a mnt pin), mnt:INODE
  cp TARGET:PATH HOSTPATH | cp HOSTPATH TARGET:PATH [--root]
                                   files and folders in or out, as docker cp (nothing runs inside);
                                   as you (your uid and groups) unless --root, where the policy grants it
  capture TARGET... [-i IFACE]... [-f FILTER] [-c COUNT] [-G SECONDS] -w FILE|-
                                   packets in network namespaces, one pcapng (nsx capture -h)
  net [TARGET] [--json] [--dot]     every network namespace's interfaces, their state, addresses and where
                                   each one's other end is (TARGET: host, a container, PID, net:INODE, a pin)
  ports [TARGET] [--json] [--tcp]  what listens where, like ss -ltnup, in every net namespace (or TARGET's:
                                   a container, pid, pin, ip netns name, net:INODE or host)
  forward TARGET PORT[:HOSTPORT] [--keep] [--address ADDR] [--any-user]
                                   TARGET's PORT (on its 127.0.0.1, or ADDR) on the host's 127.0.0.1:HOSTPORT,
                                   for your user alone (root: --any-user for everyone), until Ctrl-C
                                   (--keep: until nsx unforward ID)
  forwards [--json]                your forwards;  unforward ID  ends one
  bridge                           relay stdin/stdout to nsxd here (what ssh or kubectl exec runs for --host)
  --version
The socket is --socket, else $NSX_SOCKET, else /run/nsx/nsxd.sock. Types may be any case.
--host NAME (or $NSX_HOST): nsxd on a host of ~/.config/nsx/hosts.json, over ssh or kubectl exec.
`;

/** A command line nsx cannot read: said with a pointer to the help, exit status 2. */
export class UsageError extends Error {}
