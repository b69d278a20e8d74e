//! The demo organisation: what `--seed demo` and [`crate::Seed::Demo`] load.

use chrono::Duration;
use uuid::Uuid;

use crate::Shared;
use crate::control::{add_room, add_tenant, add_user};
use crate::state::{AccountKind, CONSUMERS_TENANT};

#[derive(Debug, Clone, Copy)]
pub struct DemoAccount {
    pub upn: &'static str,
    pub password: &'static str,
    pub display_name: &'static str,
}

#[derive(Debug, Clone, Copy)]
pub struct DemoRoom {
    pub address: &'static str,
    pub display_name: &'static str,
    pub capacity: u32,
}

#[derive(Debug, Clone, Copy)]
pub struct Demo {
    pub tenant_id: Uuid,
    pub tenant_domain: &'static str,
    pub tenant_name: &'static str,
    /// May register apps (the App registrations portal) and grant admin consent.
    pub it_admin: DemoAccount,
    pub staff: [DemoAccount; 2],
    /// Delegate on every room below.
    pub facilities: DemoAccount,
    pub rooms: [DemoRoom; 3],
    /// A personal Microsoft account (the consumers tenant).
    pub personal: DemoAccount,
}

/// The demo credentials (also listed in emulator/README.md).
pub const DEMO: Demo = Demo {
    tenant_id: Uuid::from_u128(0x6f1d3c2a_8b4e_4f7a_9c1d_2e3f4a5b6c7d),
    tenant_domain: "contoso-library.onmicrosoft.com",
    tenant_name: "Contoso Library",
    it_admin: DemoAccount {
        upn: "it.admin@contoso-library.onmicrosoft.com",
        password: "Admin-Pass-2024!",
        display_name: "Irene Tanaka",
    },
    staff: [
        DemoAccount {
            upn: "sam.reader@contoso-library.onmicrosoft.com",
            password: "Staff-Pass-2024!",
            display_name: "Sam Reader",
        },
        DemoAccount {
            upn: "alex.archivist@contoso-library.onmicrosoft.com",
            password: "Staff-Pass-2024!",
            display_name: "Alex Archivist",
        },
    ],
    facilities: DemoAccount {
        upn: "fran.facilities@contoso-library.onmicrosoft.com",
        password: "Rooms-Pass-2024!",
        display_name: "Fran Facilities",
    },
    rooms: [
        DemoRoom {
            address: "room.study-a@contoso-library.onmicrosoft.com",
            display_name: "Study Room A",
            capacity: 4,
        },
        DemoRoom {
            address: "room.seminar@contoso-library.onmicrosoft.com",
            display_name: "Seminar Room",
            capacity: 20,
        },
        DemoRoom {
            address: "room.media-lab@contoso-library.onmicrosoft.com",
            display_name: "Media Lab",
            capacity: 8,
        },
    ],
    personal: DemoAccount {
        upn: "pat.patron@outlook.com",
        password: "Personal-Pass-2024!",
        display_name: "Pat Patron",
    },
};

/// Load [`DEMO`] into an emulator.
pub fn demo(s: &Shared) {
    let now = s.clock.now();
    let mut w = s.world.lock();
    let generated = add_tenant(&mut w, DEMO.tenant_domain, DEMO.tenant_name);
    // A fixed tenant id so the demo's Directory (tenant) ID never changes.
    w.tenants
        .iter_mut()
        .find(|t| t.id == generated)
        .expect("added")
        .id = DEMO.tenant_id;
    let t = DEMO.tenant_id;
    let account = |w: &mut crate::state::World, a: DemoAccount, admin: bool| {
        add_user(
            w,
            t,
            a.upn,
            a.display_name,
            a.password,
            AccountKind::Work,
            admin,
            now,
        )
    };
    account(&mut w, DEMO.it_admin, true);
    for s in DEMO.staff {
        account(&mut w, s, false);
    }
    let fm = account(&mut w, DEMO.facilities, false);
    for r in DEMO.rooms {
        add_room(&mut w, t, r.address, r.display_name, r.capacity, &[fm], now);
    }
    let p = DEMO.personal;
    add_user(
        &mut w,
        CONSUMERS_TENANT,
        p.upn,
        p.display_name,
        p.password,
        AccountKind::Personal,
        false,
        now - Duration::zero(),
    );
}
