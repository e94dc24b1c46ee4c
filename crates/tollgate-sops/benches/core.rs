//! Criterion benchmarks of the SOPS core on a 2,000-document manifest (10,000 values): YAML
//! read and write, tree encryption and decryption with the MAC, and one value's cipher.

use criterion::{criterion_group, criterion_main, Criterion, Throughput};
use std::hint::black_box;
use tollgate_sops::cipher::{self, DataKey};
use tollgate_sops::crypt::{self, Rules, Stash};
use tollgate_sops::selector::Selector;
use tollgate_sops::stores::{yaml_read, yaml_write};

fn manifest(docs: usize) -> String {
    let mut out = String::new();
    for i in 0..docs {
        if i > 0 {
            out.push_str("---\n");
        }
        out.push_str(&format!(
            "apiVersion: v1\nkind: Secret\nmetadata:\n  name: app-{i}\nstringData:\n  username: user-{i}\n  password: p4ss-{i:06}\n"
        ));
    }
    out
}

fn core(c: &mut Criterion) {
    let text = manifest(2000);
    let docs = yaml_read::read(&text).unwrap();
    let key = DataKey::generate();
    let sel = Selector::default();
    let rules = Rules {
        selector: &sel,
        mac_only_encrypted: false,
    };
    let mut encrypted = docs.clone();
    crypt::encrypt(&mut encrypted, rules, &key, &Stash::default()).unwrap();

    let mut g = c.benchmark_group("2000 documents");
    g.throughput(Throughput::Bytes(text.len() as u64));
    g.sample_size(20);
    g.bench_function("yaml read", |b| {
        b.iter(|| yaml_read::read(black_box(&text)).unwrap())
    });
    g.bench_function("yaml write", |b| {
        b.iter(|| yaml_write::write(black_box(&docs), 4))
    });
    g.bench_function("encrypt tree + MAC", |b| {
        b.iter(|| {
            let mut d = docs.clone();
            crypt::encrypt(&mut d, rules, &key, &Stash::default()).unwrap()
        });
    });
    g.bench_function("decrypt tree + MAC", |b| {
        b.iter(|| {
            let mut d = encrypted.clone();
            crypt::decrypt(&mut d, rules, &key, false).unwrap()
        });
    });
    g.bench_function("decrypt tree + MAC, keeping IVs", |b| {
        b.iter(|| {
            let mut d = encrypted.clone();
            crypt::decrypt(&mut d, rules, &key, true).unwrap()
        });
    });
    g.finish();

    let iv = cipher::random_iv();
    let one = cipher::encrypt(&key, b"s3cr3t-value", b"stringData:password:", "str", &iv).unwrap();
    c.bench_function("one value: encrypt", |b| {
        b.iter(|| {
            cipher::encrypt(
                &key,
                black_box(b"s3cr3t-value"),
                b"stringData:password:",
                "str",
                &iv,
            )
            .unwrap()
        });
    });
    c.bench_function("one value: decrypt", |b| {
        b.iter(|| cipher::decrypt(&key, black_box(&one), b"stringData:password:").unwrap())
    });
}

criterion_group!(benches, core);
criterion_main!(benches);
