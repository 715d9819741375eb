// The extension's test suite entry, run by the workbench in the extension
// host: mocha (bdd) over suite.ts, ending with the line `N passed, N failed`.
import Mocha from 'mocha';
import { defineCaptureSuite } from './capture';
import { definePortsSuite } from './ports';
import { defineFilesSuite } from './files';
import { defineNetworkSuite } from './network';
import { defineSuite } from './suite';
import { defineNetSuite } from './net';
import { defineHostsSuite } from './hosts';

export function run(): Promise<void> {
  // NSX_GREP runs only the tests whose titles match it (while working on one).
  const mocha = new Mocha({
    ui: 'bdd',
    timeout: 60_000,
    color: false,
    reporter: 'spec',
    ...(process.env.NSX_GREP ? { grep: process.env.NSX_GREP } : {}),
  });
  // The tests are bundled with this file: give them mocha's globals, then define them.
  mocha.suite.emit('pre-require', globalThis, 'suite.ts', mocha);
  defineSuite();
  defineCaptureSuite();
  defineNetSuite();
  definePortsSuite();
  defineFilesSuite();
  defineNetworkSuite();
  defineHostsSuite();
  return new Promise((resolve, reject) => {
    const runner = mocha.run((failures) => {
      const { passes = 0, pending = 0 } = runner.stats ?? {};
      console.log(`${passes} passed, ${failures} failed${pending ? `, ${pending} skipped` : ''}`);
      if (failures > 0) reject(new Error(`${failures} test(s) failed`));
      else resolve();
    });
  });
}
