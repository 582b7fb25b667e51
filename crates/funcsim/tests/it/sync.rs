use seedchip_funcsim::{FaultKind, Limits};

use crate::support::*;

#[test]
fn semaphores_order_two_cores() {
    let x: Vec<f32> = (0..64).map(|i| i as f32 - 20.5).collect();
    for check_races in [false, true] {
        let mut m = machine("sync");
        m.write_input("x", &f32s(&[64], x.clone())).unwrap();
        let stats = m
            .run(&Limits {
                check_races,
                ..Limits::default()
            })
            .unwrap_or_else(|f| panic!("{f}"));
        let y = out_f32(&m, "y");
        let z = out_f32(&m, "z");
        for i in 0..64 {
            assert_eq!(y[i], (x[i] * 2.0) * 0.25);
            assert_eq!(z[i], y[i] + x[i] * 2.0);
        }
        assert_eq!(stats.instructions, 11);
        assert_eq!(stats.per_queue["ctl"], 7);
        assert!(
            stats.blocked_rounds > 0,
            "core 1 must have waited for core 0"
        );
    }
}

#[test]
fn runs_repeat_from_the_start() {
    let mut m = machine("sync");
    m.write_input("x", &f32s(&[64], vec![1.0; 64])).unwrap();
    let a = run(&mut m);
    m.write_input("x", &f32s(&[64], vec![3.0; 64])).unwrap();
    let b = run(&mut m);
    assert_eq!(a, b);
    assert!(out_f32(&m, "z").iter().all(|&v| v == 7.5));
}

#[test]
fn unsynchronised_access_is_a_race() {
    let mut m = machine("race");
    m.write_input("x", &f32s(&[16], vec![1.0; 16])).unwrap();
    // Without the check, funcsim's order happens to give the intended answer.
    run(&mut m);
    let f = m
        .run(&Limits {
            check_races: true,
            ..Limits::default()
        })
        .unwrap_err();
    let site = f.site.as_ref().unwrap();
    assert_eq!((site.core, site.pc), (0, 48));
    match &f.kind {
        FaultKind::Race {
            first,
            first_writes,
            second_writes,
            addr,
            ..
        } => {
            assert!(first.inst.starts_with("dma.copy"));
            assert!(*first_writes && !*second_writes);
            assert_eq!(*addr, 0x40);
        }
        other => panic!("{other}"),
    }
}

#[test]
fn waiting_forever_is_a_deadlock_naming_every_blocked_core() {
    let mut m = machine("deadlock");
    let f = fault(&mut m);
    let FaultKind::Deadlock { blocked } = &f.kind else {
        panic!("{f}");
    };
    assert_eq!(blocked.len(), 2);
    assert_eq!((blocked[0].site.core, blocked[0].site.pc), (0, 8));
    assert_eq!((blocked[0].needs, blocked[0].has), (1, 0));
    assert_eq!(
        (blocked[1].site.core, blocked[1].needs, blocked[1].has),
        (1, 3, 1)
    );
    let text = f.to_string();
    assert!(
        text.contains("deadlock") && text.contains("ctl.barrier sem=g3 count=3"),
        "{text}"
    );
}
