//! Shamir secret sharing over GF(2⁸) with the AES polynomial, in sops's share layout
//! (32 y-bytes followed by the x-coordinate), so sops and tollgate can combine each other's shares.
#![allow(
    clippy::indexing_slicing,
    clippy::arithmetic_side_effects,
    reason = "GF(2^8) table lookups indexed by u8 into 256-entry tables; share counts checked against the threshold first"
)]

use crate::error::{err, Result};
use rand::RngCore;
use zeroize::Zeroizing;

fn gf_mul(mut a: u8, mut b: u8) -> u8 {
    let mut p = 0u8;
    while b != 0 {
        if b & 1 != 0 {
            p ^= a;
        }
        let carry = a & 0x80;
        a <<= 1;
        if carry != 0 {
            a ^= 0x1B;
        }
        b >>= 1;
    }
    p
}

fn gf_inv(a: u8) -> u8 {
    // a^254 = a^-1 in GF(2^8).
    let mut result = 1u8;
    let mut base = a;
    let mut e = 254u32;
    while e > 0 {
        if e & 1 == 1 {
            result = gf_mul(result, base);
        }
        base = gf_mul(base, base);
        e >>= 1;
    }
    result
}

/// Splits `secret` into `parts` shares of which any `threshold` recover it.
pub fn split(secret: &[u8], parts: usize, threshold: usize) -> Result<Vec<Zeroizing<Vec<u8>>>> {
    if threshold < 2 || threshold > parts || parts > 255 {
        return Err(err!(
            Generic,
            "invalid Shamir parameters: threshold {threshold} of {parts} groups"
        )
        .with_hint("shamir_threshold must be at least 2 and at most the number of key groups"));
    }
    let mut shares: Vec<Zeroizing<Vec<u8>>> = (0..parts)
        .map(|i| {
            let mut v = Zeroizing::new(vec![0u8; secret.len() + 1]);
            if let Some(last) = v.last_mut() {
                *last = u8::try_from(i + 1).unwrap_or(u8::MAX);
            }
            v
        })
        .collect();
    let mut coeffs = Zeroizing::new(vec![0u8; threshold - 1]);
    for (pos, &byte) in secret.iter().enumerate() {
        rand::rngs::OsRng.fill_bytes(&mut coeffs);
        for share in &mut shares {
            let x = share[secret.len()];
            // Horner's rule for byte + c1·x + c2·x² + …
            let mut y = 0u8;
            for &c in coeffs.iter().rev() {
                y = gf_mul(y, x) ^ c;
            }
            share[pos] = gf_mul(y, x) ^ byte;
        }
    }
    Ok(shares)
}

/// Recovers the secret from shares (each: y-bytes then x).
pub fn combine(shares: &[Zeroizing<Vec<u8>>]) -> Result<Zeroizing<Vec<u8>>> {
    let Some(first) = shares.first() else {
        return Err(err!(CouldNotRetrieveKey, "no Shamir shares to combine"));
    };
    let len = first.len();
    if len < 2 || shares.iter().any(|s| s.len() != len) {
        return Err(err!(
            CouldNotRetrieveKey,
            "Shamir shares of different lengths"
        ));
    }
    let xs: Vec<u8> = shares.iter().map(|s| s[len - 1]).collect();
    for (i, x) in xs.iter().enumerate() {
        if xs[..i].contains(x) {
            return Err(err!(CouldNotRetrieveKey, "duplicate Shamir share"));
        }
    }
    let mut secret = Zeroizing::new(vec![0u8; len - 1]);
    for (i, share) in shares.iter().enumerate() {
        // Lagrange basis at 0: Π x_j / (x_j − x_i); subtraction is XOR.
        let mut basis = 1u8;
        for (j, &xj) in xs.iter().enumerate() {
            if i != j {
                basis = gf_mul(basis, gf_mul(xj, gf_inv(xj ^ xs[i])));
            }
        }
        for (pos, out) in secret.iter_mut().enumerate() {
            *out ^= gf_mul(share[pos], basis);
        }
    }
    Ok(secret)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn any_threshold_subset_recovers() {
        let secret: Vec<u8> = (0..32).collect();
        let shares = split(&secret, 3, 2).unwrap();
        for pair in [[0, 1], [0, 2], [1, 2]] {
            let subset = vec![shares[pair[0]].clone(), shares[pair[1]].clone()];
            assert_eq!(*combine(&subset).unwrap(), secret);
        }
        let one = vec![shares[0].clone()];
        assert_ne!(*combine(&one).unwrap(), secret);
        assert_eq!(gf_mul(0x57, 0x83), 0xC1);
    }
}
