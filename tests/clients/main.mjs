// Runs the compiled usage against a running gateway: node main.mjs <out-dir> <url> <token>
const [outDir, baseUrl, token] = process.argv.slice(2);
const { readFunders } = await import(`${outDir}/usage.js`);
console.log(JSON.stringify(await readFunders(baseUrl, token)));
