//! The client-secret expiry banner shown on admin pages, from 30 days
//! before the date the admin entered.

use leptos::prelude::*;

use crate::api::integrations::secret_expiry_banner;

#[component]
pub fn SecretExpiryBanner() -> impl IntoView {
    let banner = Resource::new(|| (), |_| secret_expiry_banner());
    view! {
        <Suspense>
            {move || Suspend::new(async move {
                // Nothing to say (or not an admin): no banner.
                banner.await.ok().flatten().map(|b| {
                    let class = if b.expired { "banner error" } else { "banner warning" };
                    view! { <p class=class role="status" data-testid="secret-expiry-banner">{b.message()}</p> }
                })
            })}
        </Suspense>
    }
}
