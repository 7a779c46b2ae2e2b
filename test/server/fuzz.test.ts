import { ROUTES } from '../../src/server/app.js';
import { fuzzSuite } from '../helpers/fuzzSuite.js';
import { testServer } from '../helpers/server.js';

// A small context bounds the longest reply a mutated max_tokens can ask for.
fuzzSuite(() => testServer({ parallel: 4, maxQueue: 8, ctx: 256 }), ROUTES);
