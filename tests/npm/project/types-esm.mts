// Type-checked by `tsc` (scripts/npm-test): the package's ESM types as a consumer uses them.
import { startMock, MockError, type Mock, type FaultRuleInput, type Clock } from 'revkeen-mock';

const rule: FaultRuleInput = { match: { provider: 'wodify' }, action: { type: 'provider_outage', syncs: 5 } };

export async function typed(): Promise<number> {
  const mock: Mock = await startMock({ fixture: 'default', seed: 7, port: 0 });
  const clock: Clock = await mock.clock.advance(60);
  const frozen: boolean = clock.frozen;
  await mock.faults.add(rule);
  const n: number = await mock.requests.count({ method: 'GET', status: 200 });
  const url: string = mock.url;
  await mock.stop();
  if (!(new Error() instanceof MockError) && frozen && url) return n;
  return 0;
}
