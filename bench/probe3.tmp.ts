import { sql } from 'drizzle-orm';
import { openDatabase } from '../src/db/client.js';
for (const url of ['postgres://postgres@127.0.0.1:5432/postgres', undefined]) {
  const d = await openDatabase({ databaseUrl: url });
  const keys = ['a', 'b "q" \\ , {x}', 'ü', 'null'];
  const nums = [1, 2, 9007199254740991, 4];
  const json = ['{"a":1}', null, '"x\\u0000"', 'null'];
  const hex = [null, Buffer.from([0, 1, 255]).toString('hex'), null, null];
  const q = sql`select k, r, j, decode(b, 'hex') as b, (j is null and b is null) as d from unnest(${sql.param(keys)}::text[], ${sql.param(nums)}::bigint[], ${sql.param(json)}::text[], ${sql.param(hex)}::text[]) as u(k, r, j, b)`;
  const res: any = await d.db.execute(q);
  console.log(d.kind, JSON.stringify(res.rows ?? res));
  await d.close();
}
