// The bench's table: a figure's spread said in numbers alone when its words
// are the median's, and in full when they are not.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { spread } from '../bench/figures';

describe("the bench's spread", () => {
  it('gives the lowest and highest as bare numbers when their words are the median’s', () => {
    assert.equal(spread('lsns 7.8 ms', 'lsns 7.7 ms', 'lsns 8.5 ms'), 'lsns 7.8 ms (7.7–8.5)');
    assert.equal(spread('0.59x lsns', '0.56x lsns', '0.59x lsns'), '0.59x lsns (0.56–0.59)');
    assert.equal(
      spread('0.27% of one core', '0.27% of one core', '0.30% of one core'),
      '0.27% of one core (0.27–0.30)',
    );
  });

  it('says them in full when their words differ', () => {
    assert.equal(
      spread('1 (a full scan)', '0 (none)', '2 (a full scan)'),
      '1 (a full scan) (0 (none)–2 (a full scan))',
    );
    assert.equal(spread('+1.10 ms', '+-0.22 ms', '+3.41 ms'), '+1.10 ms (+-0.22 ms–+3.41 ms)');
  });
});
