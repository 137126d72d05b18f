// ESM types: the CommonJS entry's declarations (index.mjs re-exports its values).
import * as api from './index.cjs';

export * from './index.cjs';
export default api;
