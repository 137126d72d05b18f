// ESM entry: the CommonJS implementation, re-exported (one implementation, two formats).
import api from './index.cjs';

export const { startMock, MockError, binaryPath } = api;
export default api;
