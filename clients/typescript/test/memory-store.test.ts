import { describeLocalStore } from './support/local-store-contract.js';
import { MemoryStore } from '../src/stores/memory.js';

describeLocalStore('MemoryStore', async () => ({ store: new MemoryStore() }));
