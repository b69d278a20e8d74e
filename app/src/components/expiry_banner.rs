//! The client-secret expiry banner shown on admin pages, from 30 days
//! before the date the admin entered.

use leptos::prelude::*;

use crate::api::integrations::secret_expiry_banner;
use crate::error::AppError;
use crate::models::ExpiryBanner;
use crate::wire::{Resource, resource};

pub type BannerResource = Resource<Result<Option<ExpiryBanner>, AppError>>;

/// Made by the page, outside any `RequireRole` (see the integrations page).
pub fn expiry_banner() -> BannerResource {
    resource(|| (), |_| secret_expiry_banner())
}

#[component]
pub fn SecretExpiryBanner(banner: BannerResource) -> impl IntoView {
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
