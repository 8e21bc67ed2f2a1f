import { ratioCases } from "../cases.ts";
const cases = await ratioCases();
const c = cases.find((x) => x.name === "5 sequential no-op, fresh 100 B")!;
const end = performance.now() + 4000;
while (performance.now() < end) for (let i = 0; i < 100; i++) await c.run();
for (const x of cases) await x.close();
