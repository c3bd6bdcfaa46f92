#!/usr/bin/env node
// The keysync-mirror command. A plain file that is there before any build, so
// npm can link the command at install time; the CLI itself is compiled to dist/.
import('../dist/cli/mirror.js').catch((error) => {
  if (error && error.code === 'ERR_MODULE_NOT_FOUND' && String(error.message).includes('mirror.js')) {
    console.error('keysync-mirror: @keysync/client is not built yet: run `npm run build` in its folder (or `npm install` at the keysync root)');
  } else {
    console.error(error);
  }
  process.exitCode = 1;
});
