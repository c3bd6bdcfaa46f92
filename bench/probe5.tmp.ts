import { formatTs } from '../src/store/time.js';
const old = (micros: number) => { const ms = Math.floor(micros / 1000); const rest = micros - ms * 1000; return `${new Date(ms).toISOString().slice(0, 23)}${String(rest).padStart(3, '0')}Z`; };
const base = Date.now() * 1000;
const cases = [0, 1, 999, 1000, 999999, 1e6, 1_700_000_000_123_456, base, base + 1, 253402300799999999, 946684799999999];
for (let i = 0; i < 2e6; i++) cases.push(Math.floor(Math.random() * 253402300799999999));
let bad = 0; for (const c of cases) if (formatTs(c) !== old(c)) { if (bad++ < 5) console.log(c, formatTs(c), old(c)); }
console.log('mismatches', bad, 'of', cases.length);
let t = performance.now(); for (let i = 0; i < 1e6; i++) old(base + i); console.log('old', performance.now() - t);
t = performance.now(); for (let i = 0; i < 1e6; i++) formatTs(base + i); console.log('new', performance.now() - t);
