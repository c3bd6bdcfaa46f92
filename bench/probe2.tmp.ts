import postgres from 'postgres';
const sql = postgres('postgres://postgres@127.0.0.1:5432/postgres', { max: 10, onnotice: () => {} });
for (let i = 0; i < 5; i++) {
  let t = performance.now();
  await sql.begin(async (tx) => { await tx`select 1`; await tx`select 2`; await tx`select 3`; });
  const a = performance.now() - t;
  t = performance.now();
  await sql`select 1`;
  console.log(a.toFixed(2), (performance.now() - t).toFixed(2));
}
await sql.end();
