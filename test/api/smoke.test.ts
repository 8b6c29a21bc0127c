import { expect } from 'chai';
import { startHarness, type Harness } from '../helpers/harness.js';

describe('harness smoke', () => {
  let h: Harness;
  before(async () => {
    h = await startHarness();
  });
  after(async () => {
    await h.close();
  });
  it('demo host has six PIFs and eth0 is management', async () => {
    const pifs = await h.call<Record<string, any>>('PIF.get_all_records');
    expect(Object.keys(pifs)).to.have.length(6);
    expect(pifs[h.pif('eth0')].management).to.equal(true);
    expect(h.backend.host().ips).to.deep.equal({ xenbr0: '192.0.2.10' });
  });
});
