// Drives react-admin's own ra-data-simple-rest data provider over the Trellis lists it is given.
//
// Reads a plan (JSON) on stdin: { apiUrl, cases: [...] }; each case names a list resource,
// a role and its token, where to read one record, the parent ids to reference by, and the
// writes to try. Prints one JSON array of results: {resource, role, method, ok, detail}.
// Only what react-admin itself does is used: its defaults (<List> sorts by id ASC,
// <ReferenceManyField> by id DESC) and fetchUtils.fetchJson with the token in its options.
import simpleRestProvider from 'ra-data-simple-rest';
import { fetchUtils } from 'ra-core';

const input = await new Promise((resolve) => {
    let text = '';
    process.stdin.setEncoding('utf8');
    process.stdin.on('data', (chunk) => (text += chunk));
    process.stdin.on('end', () => resolve(text));
});
const plan = JSON.parse(input);
const results = [];

function providerFor(token) {
    const seen = [];
    const httpClient = async (url, options = {}) => {
        const headers = options.headers instanceof Headers ? options.headers : new Headers(options.headers || {});
        if (!headers.has('Accept')) headers.set('Accept', 'application/json');
        const user = token ? { authenticated: true, token: `Bearer ${token}` } : undefined;
        const answer = await fetchUtils.fetchJson(url, { ...options, headers, user });
        seen.push({ url, contentRange: answer.headers.get('content-range') });
        return answer;
    };
    return { provider: simpleRestProvider(plan.apiUrl, httpClient), seen };
}

function describe(error) {
    if (error && error.status) {
        const body = error.body && typeof error.body === 'object' ? error.body : {};
        return `${error.status} ${body.detail || body.message || error.message}`;
    }
    return String(error && error.message ? error.message : error);
}

async function attempt(kase, method, run) {
    try {
        const detail = await run();
        results.push({ resource: kase.resource, role: kase.role, method, ok: true, detail: detail || '' });
        return true;
    } catch (error) {
        results.push({ resource: kase.resource, role: kase.role, method, ok: false, detail: describe(error) });
        return false;
    }
}

function check(condition, message) {
    if (!condition) throw new Error(message);
}

const PER_PAGE = 1;

for (const kase of plan.cases) {
    const { provider, seen } = providerFor(kase.token);
    let first = null;
    const listed = await attempt(kase, 'getList', async () => {
        const { data, total } = await provider.getList(kase.resource, {
            pagination: { page: 1, perPage: PER_PAGE },
            sort: { field: 'id', order: 'ASC' },
            filter: {},
        });
        check(Array.isArray(data), 'the list is not an array');
        check(Number.isInteger(total), `the total is not a number: ${total}`);
        check(data.every((r) => r.id !== undefined), 'a record has no id');
        const ids = data.map((r) => String(r.id));
        check([...ids].sort().join() === ids.join(), `not in id order: ${ids}`);
        check(total >= data.length, `total ${total} is less than the page`);
        if (kase.expectRows) check(data.length > 0, 'the list is empty although data was seeded');
        first = { data, total };
        return `${data.length} of ${total}`;
    });
    if (!listed) continue;
    let second = [];
    await attempt(kase, 'unknown filter is 400', async () => {
        try {
            await provider.getList(kase.resource, {
                pagination: { page: 1, perPage: PER_PAGE },
                sort: { field: 'id', order: 'ASC' },
                filter: { no_such_field: 'x' },
            });
        } catch (error) {
            check(error.status === 400, `answered ${describe(error)}`);
            return;
        }
        throw new Error('an unknown filter was ignored');
    });
    if (first.total > PER_PAGE) {
        await attempt(kase, 'getList page 2', async () => {
            const { data, total } = await provider.getList(kase.resource, {
                pagination: { page: 2, perPage: PER_PAGE },
                sort: { field: 'id', order: 'ASC' },
                filter: {},
            });
            check(total === first.total, `the total changed: ${first.total} then ${total}`);
            check(data.length > 0, 'page 2 is empty');
            const before = new Set(first.data.map((r) => String(r.id)));
            check(data.every((r) => !before.has(String(r.id))), 'page 2 repeats page 1');
            const last = String(first.data[first.data.length - 1].id);
            check(data.every((r) => String(r.id) > last), 'page 2 does not follow page 1 in id order');
            second = data;
            const range = seen[seen.length - 1].contentRange || '';
            const expected = `${PER_PAGE}-${PER_PAGE + data.length - 1}/${total}`;
            check(range.endsWith(expected), `Content-Range '${range}', expected '${expected}'`);
            return `${data.length} of ${total}`;
        });
    }
    if (first.data.length === 0) continue;
    const record = first.data[0];
    if (kase.one) {
        await attempt(kase, 'getOne', async () => {
            const { data } = await provider.getOne(kase.one, { id: record.id });
            check(String(data.id) === String(record.id), `asked for ${record.id}, got ${data.id}`);
        });
    } else {
        results.push({ resource: kase.resource, role: kase.role, method: 'getOne', ok: false, detail: 'no GET for one record' });
    }
    await attempt(kase, 'getMany', async () => {
        const ids = [...first.data, ...second].map((r) => r.id);
        const { data } = await provider.getMany(kase.resource, { ids });
        const got = data.map((r) => String(r.id)).sort();
        check(got.join() === ids.map(String).sort().join(), `asked for ${ids}, got ${got}`);
    });
    for (const target of kase.references) {
        const value = record[target];
        if (value === null || value === undefined) continue;
        await attempt(kase, `getManyReference ${target}`, async () => {
            const { data, total } = await provider.getManyReference(kase.resource, {
                target,
                id: value,
                pagination: { page: 1, perPage: 5 },
                sort: { field: 'id', order: 'DESC' },
                filter: {},
            });
            check(total >= 1 && data.length >= 1, `nothing references ${target}=${value}`);
            check(data.every((r) => String(r[target]) === String(value)), `a record of another ${target}`);
            const ids = data.map((r) => String(r.id));
            check([...ids].sort().reverse().join() === ids.join(), `not in id DESC order: ${ids}`);
            return `${data.length} of ${total}`;
        });
    }
    if (kase.create) {
        let made = null;
        await attempt(kase, 'create', async () => {
            const { data } = await provider.create(kase.resource, { data: kase.create });
            check(data.id !== undefined, 'the created record has no id');
            made = data;
        });
        if (made && kase.update) {
            await attempt(kase, 'update', async () => {
                // As <Edit> does: the whole record as the form holds it, with the change.
                const { data } = await provider.update(kase.one || kase.resource, {
                    id: made.id, data: { ...made, ...kase.update }, previousData: made,
                });
                for (const [key, value] of Object.entries(kase.update)) {
                    check(JSON.stringify(data[key]) === JSON.stringify(value), `${key} did not change`);
                }
            });
        }
        if (made && kase.delete) {
            await attempt(kase, 'delete', async () => {
                const { data } = await provider.delete(kase.one || kase.resource, { id: made.id, previousData: made });
                check(String(data.id) === String(made.id), 'the answer is not the deleted record');
            });
        }
    } else if (kase.update) {
        await attempt(kase, 'update', async () => {
            const id = kase.updateId || record.id;
            const { data: current } = await provider.getOne(kase.one, { id });
            // As <Edit> does: the whole record as the form holds it, with the change.
            const { data } = await provider.update(kase.one, {
                id, data: { ...current, ...kase.update }, previousData: current,
            });
            for (const [key, value] of Object.entries(kase.update)) {
                check(JSON.stringify(data[key]) === JSON.stringify(value), `${key} did not change`);
            }
        });
    }
}

process.stdout.write(JSON.stringify(results));
