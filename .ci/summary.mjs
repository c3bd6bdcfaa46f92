// Prints "<backend>: N passed, N failed, N skipped" from a vitest JSON report.
import { readFileSync } from 'node:fs';

const [backend, file] = process.argv.slice(2);
const report = JSON.parse(readFileSync(file, 'utf8'));
const skipped = (report.numPendingTests ?? 0) + (report.numTodoTests ?? 0);
console.log(`${backend}: ${report.numPassedTests} passed, ${report.numFailedTests} failed, ${skipped} skipped`);
if (report.numFailedTests > 0 || report.numTotalTests === 0) process.exit(1);
