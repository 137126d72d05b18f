// Type-checked by `tsc` (scripts/npm-test): the package's CommonJS types.
import mock = require('revkeen-mock');

export const start: (o?: mock.StartMockOptions) => Promise<mock.Mock> = mock.startMock;
