// A host in a URI's authority (a namespace's Details, a process's namespaces,
// a root of nsx-files), so that two hosts' net:[4026531840] are two documents
// and a document reopened after a reload finds its host by name. VS Code
// compares authorities without case, and names in nsx.hosts may have upper
// case: such a name goes as `~` and its hex. A name never holds `~`
// (helper/common/hosts.ts), so the two forms cannot be taken for each other.
import { HOST_NAME } from '../helper/common/hosts';

/** This host: '' (the URIs it always had); another: its name, or `~HEX` when it has upper case. */
export function hostPart(name: string | undefined): string {
  if (name === undefined) return '';
  return /[A-Z]/.test(name) ? `~${Buffer.from(name).toString('hex')}` : name;
}

/** The host an authority's part names: undefined for this one; a name that is not a host name is an error. */
export function hostOfPart(part: string): string | undefined {
  if (part === '') return undefined;
  const name = part.startsWith('~') ? Buffer.from(part.slice(1), 'hex').toString() : part;
  if (!HOST_NAME.test(name)) throw new Error(`${JSON.stringify(part)} names no host`);
  return name;
}
