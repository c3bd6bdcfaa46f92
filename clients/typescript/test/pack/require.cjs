// CommonJS code can load the ESM-only package through Node's require(esm) (Node >= 20.19).
const client = require('@keysync/client');
const id = client.storeId({ scope: 'a1b2c3d4-e5f6-7890-abcd-ef1234567890', backend: 'file', path: 'data/my-store' });
if (id !== '58c4b668-ca6b-5f9d-8989-3a4a0ff13619') throw new Error(`require(): storeId gave ${id}`);
console.log('require(@keysync/client): ok');
