import{a as ce,b as n,c as h,d as $,e as P,f as Y,g as v,h as z,i as x,j as w,k as ue,l as _,m as U,n as j,o as me,p as pe,u as de}from"./chunk-UH5LOXPZ.js";function te(){return{path:location.pathname,params:new URLSearchParams(location.search)}}var V=U(te()),Q=!1;function E(e,{replace:t=!1}={}){t?history.replaceState(null,"",e):history.pushState(null,"",e),Q=!t,V.set(te()),t||window.scrollTo(0,0)}addEventListener("popstate",()=>{Q=!0,V.set(te())});function M({children:e,...t}){let r=P(null),o=T();return $(()=>{Q&&r.current&&(Q=!1,r.current.focus({preventScroll:!0}))},[o]),n`<h1 tabindex="-1" ref=${r} ...${t}>${e}</h1>`}function T(){return j(V)}function Me(e){return e.button===0&&!e.metaKey&&!e.ctrlKey&&!e.shiftKey&&!e.altKey}function R({href:e,children:t,...r}){function o(i){Me(i)&&(i.preventDefault(),E(e))}return n`<a href=${e} onClick=${o} ...${r}>${t}</a>`}function re({src:e,title:t,size:r="card"}){let[o,i]=h(!e);return o?n`<div class=${`poster poster-${r} poster-missing`} aria-hidden="true"><span>${t}</span></div>`:n`<img
    class=${`poster poster-${r}`}
    src=${e}
    alt=""
    loading="lazy"
    decoding="async"
    width="240"
    height="360"
    onError=${()=>i(!0)}
  />`}function G({value:e}){return e==null?null:n`<span class="rating"><span aria-hidden="true">★</span> ${e.toFixed(2)}<span class="visually-hidden"> out of 10</span></span>`}function q(e){return{tv:"TV",movie:"Movie",ova:"OVA",ona:"ONA",special:"Special",music:"Music",web:"Web"}[e]||e||""}function fe({anime:e}){let t=[q(e.type),de(e.start_date)].filter(Boolean).join(" · ");return n`
    <li class="card">
      <${R} href=${`/anime/${encodeURIComponent(e.id)}`} class="card-link">
        <${re} src=${e.images&&e.images.poster} title=${e.title} />
        <span class="card-title">${e.title}</span>
      <//>
      <span class="card-meta">${t} <${G} value=${e.rating} /></span>
    </li>
  `}function Z({count:e=8}){return Array.from({length:e},(t,r)=>n`<li class="card skeleton" aria-hidden="true" key=${`skeleton-${r}`}>
      <div class="poster poster-card"></div>
      <span class="skeleton-line"></span>
      <span class="skeleton-line short"></span>
    </li>`)}var ne=U(new Map),ae=U(navigator.onLine);addEventListener("online",()=>ae.set(!0));addEventListener("offline",()=>ae.set(!1));var Be=1;function De(e,t){ne.set(r=>new Map(r).set(e,t))}function Ie(e){ne.set(t=>{if(!t.has(e))return t;let r=new Map(t);return r.delete(e),r})}function qe(e){return e.kind==="circuit-open"||e.kind.startsWith("upstream")}function Ne(e,t){let r=Date.now()+t*1e3;return e instanceof z?{kind:"network",until:r,seconds:t}:e.status===429?{kind:e.kind==="too-many-active-streams"?"streams":"rate",until:r,seconds:t}:{kind:qe(e)?"upstream":"service",until:r,seconds:t}}function Oe(e){return e instanceof z||e instanceof v&&(e.status===503||e.status===429)}async function H(e,t){let r=Be++;try{for(;;)try{return await e()}catch(o){if(_(o)||!Oe(o))throw o;let i=o instanceof z?5:Math.max(1,Math.ceil(o.retryAfter??5));De(r,Ne(o,i)),await ue(i*1e3,t)}}finally{Ie(r)}}var ge={network:5,upstream:4,service:3,streams:2,rate:1};function he(e,t){switch(e){case"upstream":return`Crunchyroll is unavailable, retrying in ${t} s`;case"service":return`Kenshō is unavailable, retrying in ${t} s`;case"streams":return`Your account is playing as many streams as it may: trying again in ${t} s`;case"rate":return`Too many requests: waiting ${t} s before trying again`;default:return`Kenshō cannot be reached, retrying in ${t} s`}}function Ue({notice:e}){let t=Math.max(0,Math.ceil((e.until-Date.now())/1e3));return n`<p class=${`notice notice-${e.kind}`}>
    <span aria-hidden="true">${he(e.kind,t)}</span>
    <span class="visually-hidden">${he(e.kind,e.seconds)}</span>
  </p>`}function $e(){let e=j(ne),t=j(ae),r=[...e.values()].sort((o,i)=>ge[i.kind]-ge[o.kind])[0];return me(250,!!r),n`
    <div class="notices" role="status" aria-live="polite">
      ${!t&&n`<p class="notice notice-offline">You are offline. Kenshō will carry on when the network is back.</p>`}
      ${r&&n`<${Ue} notice=${r} />`}
    </div>
  `}function K(e,t){let[r,o]=h({items:[],next:null,loading:!0,error:null,done:!1}),i=P(null),s=P(!1),l=Y(async(b,c)=>{if(s.current&&!c)return;s.current=!0;let{signal:S}=i.current;o(g=>({...g,loading:!0,error:null}));try{let g=await H(()=>t(b,S),S);o(C=>({items:c?g.items:[...C.items,...g.items],next:g.next_cursor,loading:!1,error:null,done:!g.next_cursor}))}catch(g){if(_(g))return;o(C=>({...C,loading:!1,error:g}))}finally{S.aborted||(s.current=!1)}},[e]);$(()=>(i.current=new AbortController,s.current=!1,o({items:[],next:null,loading:!0,error:null,done:!1}),l(null,!0),()=>i.current.abort()),[e]);let f=Y(()=>{!r.loading&&r.next&&l(r.next,!1)},[r.loading,r.next,l]),a=Y(()=>{r.items.length===0?l(null,!0):r.next&&l(r.next,!1)},[r.items.length,r.next,l]);return{...r,more:f,retry:a}}function W({pages:e,label:t="Load more"}){let r=P(null);if($(()=>{let o=r.current;if(!o||!e.next||e.loading)return;let i=new IntersectionObserver(s=>s.some(l=>l.isIntersecting)&&e.more(),{rootMargin:"600px 0px"});return i.observe(o),()=>i.disconnect()},[e.next,e.loading,e.more]),e.error){let o=e.error instanceof v?e.error.message:"Something went wrong.";return n`<p class="error" role="alert">${o} <button type="button" onClick=${e.retry}>Try again</button></p>`}return e.next?n`<div class="load-more" ref=${r}>
    <button type="button" onClick=${e.more} disabled=${e.loading}>${e.loading?"Loading…":t}</button>
  </div>`:null}var X="kensho.session";function be(){try{let e=JSON.parse(localStorage.getItem(X)||"null");if(e&&typeof e.token=="string"&&Date.parse(e.expiresAt)>Date.now())return e}catch{}return null}var B=U(be());function ee(e){e?localStorage.setItem(X,JSON.stringify(e)):localStorage.removeItem(X),B.set(e)}addEventListener("storage",e=>{e.key===X&&B.set(be())});async function ye(e,t){let r=await x("/api/auth/login",{method:"POST",body:{username:e,password:t}});ee({token:r.token,username:e,premium:!!(r.account&&r.account.premium),expiresAt:r.expires_at})}async function ve(){let e=B.get();ee(null),e&&await x("/api/auth/logout",{method:"POST",token:e.token}).catch(()=>{})}function oe(){ee(null)}async function xe(){let e=B.get();if(e)try{let t=await x("/api/auth/me",{token:e.token});ee({...e,premium:!!(t.account&&t.account.premium),expiresAt:t.expires_at})}catch(t){t instanceof v&&t.status===401&&oe()}}function we(e){let t=/^(\d+):(\d{1,2}):(\d{1,2})[.,](\d{1,3})$/.exec(e.trim());if(!t)return null;let[,r,o,i,s]=t,l=s.padEnd(3,"0").slice(0,3);return`${r.padStart(2,"0")}:${o.padStart(2,"0")}:${i.padStart(2,"0")}.${l}`}function ze(e){return e.replace(/\{[^}]*\}/g,"").replace(/\\[Nn]/g,`
`).replace(/\\h/g," ").replace(/&/g,"&amp;").replace(/</g,"&lt;").replace(/>/g,"&gt;").replace(/-->/g,"--&gt;").trim()}function He(e){let t=e.replace(/\r\n?/g,`
`).split(`
`),r=!1,o=["Layer","Start","End","Style","Name","MarginL","MarginR","MarginV","Effect","Text"],i=[];for(let s of t){let l=s.trim();if(l.startsWith("[")){r=l.toLowerCase()==="[events]";continue}if(r){if(l.startsWith("Format:"))o=l.slice(7).split(",").map(f=>f.trim());else if(l.startsWith("Dialogue:")){let f=l.slice(9).split(","),a=f.slice(0,o.length-1).map(C=>C.trim()),b=f.slice(o.length-1).join(","),c=we(a[o.indexOf("Start")]||""),S=we(a[o.indexOf("End")]||""),g=ze(b);c&&S&&g&&i.push(`${c} --> ${S}
${g}`)}}}return`WEBVTT

${i.join(`

`)}
`}function Ke(e){return`WEBVTT

${e.replace(/\r\n?/g,`
`).replace(/(\d{2}:\d{2}:\d{2}),(\d{3})/g,"$1.$2").trim()}
`}function ke(e,t){return e==="ass"?He(t):e==="srt"?Ke(t):t.startsWith("WEBVTT")?t:`WEBVTT

${t}`}var We=1e4,Se={"en-US":"English","de-DE":"Deutsch","es-419":"Español (América Latina)","es-ES":"Español","fr-FR":"Français","pt-BR":"Português (Brasil)","it-IT":"Italiano","ja-JP":"日本語"};function Ee(){oe(),E(`/login${w({next:V.get().path,expired:1})}`)}function Fe(e){return e instanceof v&&e.status===403?"This episode needs a premium account.":e instanceof v&&e.status===404?"This episode is not available.":e.message||"The stream could not be started."}function Ve(e,t,r,o,i){let s=`/api/episodes/${encodeURIComponent(t)}/stream${w({quality:r,bandwidth_kbps:o})}`;return H(()=>x(s,{token:e,signal:i}),i)}function Te({anime:e,episode:t,onClose:r}){let o=j(B),i=P(null),s=P(null),l=P(null),f=P({bytes:0,since:performance.now()}),[a,b]=h(null),[c,S]=h("auto"),[g,C]=h(""),[m,u]=h(null),[y,A]=h("Starting…"),[N,F]=h(null),D=o&&o.token;$(()=>{s.current.scrollIntoView({block:"start"}),i.current.focus({preventScroll:!0})},[]),$(()=>{if(!D)return;let p=new AbortController,k=l.current&&l.current.bandwidthEstimate,L=c==="auto"&&k?Math.round(k/1e3):null;return F(null),Ve(D,t.id,c,L,p.signal).then(b).catch(d=>{_(d)||(d instanceof v&&d.status===401?Ee():F(Fe(d)))}),()=>p.abort()},[D,t.id,c]),$(()=>{if(!a)return;let p=!1,k=i.current,L=k.currentTime;return(async()=>{let{default:d}=await import("./hls.light-Z3YY76IU.js");if(!p){if(d.isSupported()){if(!l.current){let O=new d({workerPath:"/assets/hls.worker-hVPkWZYv27.js",enableWorker:!0});O.on(d.Events.FRAG_LOADED,(J,I)=>{f.current.bytes+=I.frag&&I.frag.stats&&I.frag.stats.loaded||0}),O.on(d.Events.ERROR,(J,I)=>{I.fatal&&F(`Playback failed (${I.type}: ${I.details}).`)}),O.attachMedia(k),l.current=O}l.current.loadSource(a.manifest_url)}else if(k.canPlayType("application/vnd.apple.mpegurl"))k.src=a.manifest_url;else{F("This browser cannot play HLS streams.");return}L>0&&(k.currentTime=L),k.play().catch(()=>A("Press play to start."))}})().catch(d=>F(`The player could not load: ${d.message}`)),()=>{p=!0}},[a]),$(()=>{let p=a&&a.subtitles.find(d=>d.lang===g);if(!p){u(null);return}let k=new AbortController,L=null;return fetch(p.url,{signal:k.signal}).then(d=>d.ok?d.text():Promise.reject(new Error(`subtitles answered ${d.status}`))).then(d=>{L=URL.createObjectURL(new Blob([ke(p.format,d)],{type:"text/vtt"})),u(L)}).catch(d=>_(d)||A(`Subtitles unavailable (${d.message}).`)),()=>{k.abort(),L&&URL.revokeObjectURL(L)}},[a,g]),$(()=>{let p=i.current;if(p&&p.textTracks.length)for(let k of p.textTracks)k.mode=m?"showing":"disabled"},[m]),$(()=>{if(!D)return;function p(L=!1){let d=i.current,O=performance.now(),{bytes:J,since:I}=f.current,se=(O-I)/1e3;!a||se<.001||!L&&(!d||d.paused)||L&&J===0||(f.current={bytes:0,since:O},x("/api/streams/heartbeat",{method:"POST",token:D,keepalive:L,body:{episode_id:t.id,quality:a.quality,bytes:J,seconds:Math.min(se,3600)}}).catch(le=>le instanceof v&&le.status===401&&Ee()))}let k=setInterval(p,We);return()=>{clearInterval(k),p(!0)}},[D,a,t.id]),$(()=>{function p(){D&&x(`/api/episodes/${encodeURIComponent(t.id)}/stream`,{method:"DELETE",token:D,keepalive:!0}).catch(()=>{})}return addEventListener("pagehide",p),()=>{removeEventListener("pagehide",p),l.current&&l.current.destroy(),l.current=null,p()}},[D,t.id]);let ie=`${e.title}: episode ${t.number}${t.title?`, ${t.title}`:""}`;return n`
    <section class="player" aria-labelledby="player-heading" ref=${s}>
      <h2 id="player-heading">Now playing <span class="player-title">${ie}</span></h2>
      <video
        ref=${i}
        controls
        playsinline
        crossorigin="anonymous"
        aria-label=${`Video: ${ie}`}
        onPlaying=${()=>A("")}
        onWaiting=${()=>A("Buffering…")}
      >
        ${m&&n`<track kind="subtitles" src=${m} srclang=${g} label=${Se[g]||g} default />`}
      </video>
      <div class="player-controls">
        <label>Quality
          <select value=${c} onChange=${p=>S(p.currentTarget.value)} disabled=${!a}>
            <option value="auto">Auto${a&&c==="auto"?` (${a.quality})`:""}</option>
            ${(a?a.qualities:[]).map(p=>n`<option value=${p}>${p}</option>`)}
          </select>
        </label>
        <label>Subtitles
          <select value=${g} onChange=${p=>C(p.currentTarget.value)} disabled=${!a||!a.subtitles.length}>
            <option value="">Off</option>
            ${(a?a.subtitles:[]).map(p=>n`<option value=${p.lang}>${Se[p.lang]||p.lang}</option>`)}
          </select>
        </label>
        <button type="button" onClick=${r}>Stop</button>
      </div>
      <p class="player-status" role="status">${N?"":y}</p>
      ${N&&n`<p class="error" role="alert">${N}</p>`}
    </section>
  `}var Ge=[["romaji","Romaji","ja-Latn"],["en","English","en"],["ja","Japanese","ja"],["zh-Hans","Chinese (simplified)","zh-Hans"],["zh-Hant","Chinese (traditional)","zh-Hant"]],Je={crunchyroll:["Crunchyroll",e=>`https://www.crunchyroll.com/series/${e}`],mal:["MyAnimeList",e=>`https://myanimelist.net/anime/${e}`],anilist:["AniList",e=>`https://anilist.co/anime/${e}`],anidb:["AniDB",e=>`https://anidb.net/anime/${e}`],kitsu:["Kitsu",e=>`https://kitsu.app/anime/${e}`],tmdb:["TMDB",e=>`https://www.themoviedb.org/${e}`],bangumi:["Bangumi",e=>`https://bgm.tv/subject/${e}`]};function Ye(e){let t=e.external_ids||{},r=Object.entries(Je).filter(([o])=>typeof t[o]=="string"&&/^[\w/.-]{1,64}$/.test(t[o])).map(([o,[i,s]])=>({label:i,href:s(encodeURI(t[o]))}));return e.official_site&&/^https?:\/\//.test(e.official_site)&&r.unshift({label:"Official site",href:e.official_site}),r}function Qe({anime:e,season:t,onPlay:r,playing:o}){let i=K(`${e.id}|${t}`,(s,l)=>x(`/api/anime/${encodeURIComponent(e.id)}/episodes${w({season:t,cursor:s,limit:24})}`,{signal:l}));return n`
    <ol class="episodes" aria-busy=${i.loading?"true":"false"}>
      ${i.items.map(s=>n`
          <li key=${s.id} class=${o===s.id?"episode playing":"episode"}>
            <span class="episode-number">${s.number}</span>
            <span class="episode-title">${s.title||`Episode ${s.number}`}</span>
            <span class="episode-meta">
              ${pe(s.duration_seconds)}${s.air_date?` · ${s.air_date}`:""}
              ${s.premium&&n` <span class="badge badge-premium">Premium</span>`}
            </span>
            <button type="button" class="play" aria-label=${`Play episode ${s.number}: ${s.title||""}`.trim()} onClick=${()=>r(s)}>
              <span aria-hidden="true">▶</span> Play
            </button>
          </li>
        `)}
      ${i.loading&&Array.from({length:4},(s,l)=>n`<li key=${`s${l}`} class="episode skeleton" aria-hidden="true"><span class="skeleton-line"></span></li>`)}
    </ol>
    ${!i.loading&&!i.error&&i.items.length===0&&n`<p class="empty">No episodes yet.</p>`}
    <${W} pages=${i} label="More episodes" />
  `}function Ae({id:e}){let[t,r]=h({anime:null,error:null}),[o,i]=h(null),[s,l]=h(null),f=j(B),{path:a}=T();$(()=>{let m=new AbortController;return r({anime:null,error:null}),l(null),H(()=>x(`/api/anime/${encodeURIComponent(e)}`,{signal:m.signal}),m.signal).then(u=>{r({anime:u,error:null}),i(u.seasons&&u.seasons.length?u.seasons[0].number:null),document.title=`${u.title} · Kenshō`}).catch(u=>_(u)||r({anime:null,error:u})),()=>m.abort()},[e]);function b(m){if(!f){E(`/login${w({next:a})}`);return}l(m)}if(t.error){let m=t.error instanceof v&&t.error.status===404;return n`<${M}>${m?"Not found":"Something went wrong"}<//>
      <p>${m?"No anime has this id.":t.error.message}</p>
      <p><${R} href="/">Back to browsing<//></p>`}let c=t.anime;if(!c)return n`<div class="anime skeleton" aria-busy="true"><div class="poster poster-large"></div><p class="skeleton-line"><span class="visually-hidden">Loading…</span></p></div>`;let S=Ye(c),g=c.seasons||[],C=[c.start_date,c.end_date].filter(Boolean).join(" to ");return n`
    <article class="anime">
      <div class="anime-head">
        <${re} src=${c.images&&c.images.poster} title=${c.title} size="large" />
        <div class="anime-facts">
          <${M}>${c.title}<//>
          <p class="anime-meta">
            ${q(c.type)}${c.episodes?` · ${c.episodes} episodes`:""}${C?` · ${C}`:""}
            ${" "}<${G} value=${c.rating} />
          </p>
          <ul class="genres" aria-label="Genres">
            ${(c.genres||[]).map(m=>n`<li><${R} href=${`/${w({genre:m})}`} class="chip">${m}<//></li>`)}
          </ul>
          <dl class="titles">
            ${Ge.filter(([m])=>c.titles&&c.titles[m]).map(([m,u,y])=>n`<dt>${u}</dt><dd lang=${y}>${c.titles[m]}</dd>`)}
          </dl>
          ${S.length>0&&n`
            <nav aria-label="Elsewhere" class="links">
              <ul>${S.map(m=>n`<li><a href=${m.href} rel="noopener noreferrer external" target="_blank">${m.label}</a></li>`)}</ul>
            </nav>`}
        </div>
      </div>
      ${s&&n`<${Te} key=${s.id} anime=${c} episode=${s} onClose=${()=>l(null)} />`}
      <section aria-labelledby="episodes-heading" class="episodes-section">
        <div class="episodes-head">
          <h2 id="episodes-heading">Episodes</h2>
          ${g.length>1&&n`
            <label>Season
              <select value=${o} onChange=${m=>i(Number(m.currentTarget.value))}>
                ${g.map(m=>n`<option value=${m.number}>${m.title||`Season ${m.number}`} (${m.episode_count})</option>`)}
              </select>
            </label>`}
        </div>
        ${!f&&n`<p class="hint"><${R} href=${`/login${w({next:a})}`}>Log in<//> to play episodes.</p>`}
        ${o!==null&&n`<${Qe} anime=${c} season=${o} onPlay=${b} playing=${s&&s.id} />`}
      </section>
    </article>
  `}var Ze=["Action","Adventure","Comedy","Drama","Fantasy","Historical","Horror","Isekai","Kids","Magic","Martial Arts","Mecha","Military","Music","Mystery","Psychological","Romance","School","Sci-Fi","Seinen","Shoujo","Shounen","Slice of Life","Space","Sports","Super Power","Supernatural","Thriller"],Xe=["tv","movie","ova","ona","special","music","web"],Le={popularity:"Popularity",rating:"Rating",title:"Title"},et="id,title,type,rating,images,start_date";function Ce(){let{params:e}=T(),t=e.get("genre")||"",r=e.get("type")||"",o=Le[e.get("sort")]?e.get("sort"):"popularity",i=`${t}|${r}|${o}`,s=K(i,(a,b)=>x(`/api/anime${w({genre:t,type:r,sort:o,cursor:a,limit:24,fields:et})}`,{signal:b}));function l(a,b){let c=new URLSearchParams(e);b?c.set(a,b):c.delete(a),E(`/${c.toString()?`?${c}`:""}`,{replace:!0})}let f=[t,r?q(r):"","anime"].filter(Boolean).join(" ");return n`
    <${M}>Browse ${f.toLowerCase()==="anime"?"anime":f}<//>
    <form class="filters" aria-label="Filters" onSubmit=${a=>a.preventDefault()}>
      <label>Genre
        <select value=${t} onChange=${a=>l("genre",a.currentTarget.value)}>
          <option value="">All genres</option>
          ${Ze.map(a=>n`<option value=${a}>${a}</option>`)}
        </select>
      </label>
      <label>Type
        <select value=${r} onChange=${a=>l("type",a.currentTarget.value)}>
          <option value="">All types</option>
          ${Xe.map(a=>n`<option value=${a}>${q(a)}</option>`)}
        </select>
      </label>
      <label>Sort by
        <select value=${o} onChange=${a=>l("sort",a.currentTarget.value==="popularity"?"":a.currentTarget.value)}>
          ${Object.entries(Le).map(([a,b])=>n`<option value=${a}>${b}</option>`)}
        </select>
      </label>
    </form>
    <ul class="grid" aria-label="Anime" aria-busy=${s.loading?"true":"false"}>
      ${s.items.map(a=>n`<${fe} key=${a.id} anime=${a} />`)}
      ${s.loading&&n`<${Z} count=${s.items.length?6:12} />`}
    </ul>
    ${!s.loading&&!s.error&&s.items.length===0&&n`<p class="empty">No anime matches these filters.</p>`}
    <${W} pages=${s} />
  `}function tt(e){return e&&e.startsWith("/")&&!e.startsWith("//")?e:"/"}function Re(){let{params:e}=T(),[t,r]=h(e.get("expired")?"Your session has ended. Please log in again.":""),[o,i]=h(!1);async function s(l){l.preventDefault();let f=new FormData(l.currentTarget);i(!0),r("");try{await ye(String(f.get("username")).trim(),String(f.get("password"))),E(tt(e.get("next")),{replace:!0})}catch(a){a instanceof v&&a.status===401?r("Wrong email or password."):a instanceof v&&a.status===429?r(`Too many attempts. Try again in ${a.retryAfter??60} s.`):a instanceof v&&a.status===503?r(`Crunchyroll is unavailable. Try again in ${a.retryAfter??5} s.`):a instanceof z?r("Kenshō cannot be reached. Check your connection."):r(a.message||"Login failed.")}finally{i(!1)}}return n`
    <section class="login">
      <${M}>Log in<//>
      <p>Use your Crunchyroll account.</p>
      <form onSubmit=${s} class="stack">
        <label for="login-email">Email</label>
        <input id="login-email" name="username" type="email" autocomplete="username" required maxlength="254" />
        <label for="login-password">Password</label>
        <input id="login-password" name="password" type="password" autocomplete="current-password" required maxlength="1024" />
        <button type="submit" class="primary" disabled=${o}>${o?"Logging in…":"Log in"}</button>
        <p class="error" role="alert">${t}</p>
      </form>
    </section>
  `}var rt=150,nt={romaji:"Romaji",en:"English",ja:"Japanese","zh-Hans":"Chinese","zh-Hant":"Chinese"};function Pe(){let{path:e,params:t}=T(),[r,o]=h(e==="/search"&&t.get("q")||""),[i,s]=h([]),[l,f]=h(!1),[a,b]=h(-1);$(()=>{e==="/search"&&o(t.get("q")||"")},[e,t.get("q")]),$(()=>{let u=r.trim();if(!u||!l){s([]);return}let y=new AbortController,A=setTimeout(async()=>{try{let N=await x(`/api/search/suggest${w({q:u,limit:8})}`,{signal:y.signal});s(N.items),b(-1)}catch(N){_(N)||s([])}},rt);return()=>{clearTimeout(A),y.abort()}},[r,l]);function c(){f(!1),b(-1)}function S(u){c(),E(`/anime/${encodeURIComponent(u.id)}`)}function g(u){u.preventDefault();let y=r.trim();if(a>=0&&i[a])return S(i[a]);y&&(c(),E(`/search${w({q:y})}`))}function C(u){let y=l&&i.length>0;u.key==="ArrowDown"?(u.preventDefault(),f(!0),y&&b(A=>(A+1)%i.length)):u.key==="ArrowUp"&&y?(u.preventDefault(),b(A=>A<=0?i.length-1:A-1)):u.key==="Escape"&&(y&&u.preventDefault(),c())}let m=l&&i.length>0;return n`
    <form class="search" role="search" onSubmit=${g}>
      <label for="search-input" class="visually-hidden">Search anime</label>
      <input
        id="search-input"
        type="search"
        name="q"
        placeholder="Search anime in any language"
        autocomplete="off"
        spellcheck=${!1}
        role="combobox"
        aria-autocomplete="list"
        aria-expanded=${m?"true":"false"}
        aria-controls="search-suggestions"
        aria-activedescendant=${a>=0?`suggestion-${a}`:void 0}
        value=${r}
        maxlength="200"
        onInput=${u=>{o(u.currentTarget.value),f(!0)}}
        onKeyDown=${C}
        onFocus=${()=>f(!0)}
        onBlur=${()=>setTimeout(c,150)}
      />
      <button type="submit" class="search-button">Search</button>
      <ul id="search-suggestions" role="listbox" aria-label="Suggestions" class="suggestions" hidden=${!m}>
        ${i.map((u,y)=>n`
            <li
              id=${`suggestion-${y}`}
              role="option"
              aria-selected=${y===a?"true":"false"}
              class=${y===a?"active":""}
              onMouseDown=${A=>{A.preventDefault(),S(u)}}
            >
              <span>${u.title}</span>
              <small>${nt[u.lang]||u.lang}${u.type?` · ${u.type.toUpperCase()}`:""}</small>
            </li>
          `)}
      </ul>
    </form>
  `}var at={romaji:"romaji",en:"English",ja:"Japanese","zh-Hans":"Chinese","zh-Hant":"Chinese"};function ot({hit:e}){let t=[e.titles&&e.titles.romaji,e.titles&&e.titles.ja].filter(r=>r&&r!==e.title);return n`
    <li class="hit">
      <${R} href=${`/anime/${encodeURIComponent(e.id)}`} class="hit-title">${e.title}<//>
      ${t.length>0&&n`<span class="hit-alt" lang="ja">${t.join(" · ")}</span>`}
      <span class="hit-meta">
        ${q(e.type)} <${G} value=${e.rating} />
        ${e.genres&&e.genres.length>0&&n` · ${e.genres.slice(0,3).join(", ")}`}
        ${e.match_kind==="fuzzy"&&n` · <em>matched “${e.matched}” (${at[e.matched_lang]||e.matched_lang})</em>`}
      </span>
    </li>
  `}function _e(){let{params:e}=T(),t=(e.get("q")||"").trim(),r=K(t,(o,i)=>t?x(`/api/search${w({q:t,cursor:o,limit:20})}`,{signal:i}):Promise.resolve({items:[],next_cursor:null}));return n`
    <${M}>${t?n`Results for “${t}”`:"Search"}<//>
    <ol class="hits" aria-label="Search results" aria-busy=${r.loading?"true":"false"}>
      ${r.items.map(o=>n`<${ot} key=${o.id} hit=${o} />`)}
    </ol>
    ${r.loading&&n`<ul class="grid" aria-hidden="true"><${Z} count=${4} /></ul>`}
    ${!r.loading&&!r.error&&t&&r.items.length===0&&n`<p class="empty">No anime matches “${t}”.</p>`}
    <${W} pages=${r} label="More results" />
  `}function it(){let e=j(B),{path:t}=T();return e?n`
    <span class="account">
      <span class="account-name">${e.username}</span>
      ${e.premium?n`<span class="badge badge-premium">Premium</span>`:n`<span class="badge">Free</span>`}
      <button type="button" onClick=${()=>ve().then(()=>E("/"))}>Log out</button>
    </span>
  `:n`<${R} href=${`/login${t==="/login"?"":w({next:t})}`} class="button">Log in<//>`}function st({path:e}){if(e==="/")return n`<${Ce} />`;if(e==="/search")return n`<${_e} />`;if(e==="/login")return n`<${Re} />`;let t=/^\/anime\/([A-Za-z0-9_-]{1,64})$/.exec(e);return t?n`<${Ae} id=${t[1]} />`:n`<${M}>Not found<//><p><${R} href="/">Back to browsing<//></p>`}var lt={"/":"Browse","/search":"Search","/login":"Log in"};function je(){let{path:e}=T();return $(()=>{document.title=`${lt[e]||"Anime"} · Kenshō`},[e]),n`
    <a class="skip-link" href="#main">Skip to content</a>
    <header class="site-header">
      <${R} href="/" class="brand" aria-label="Kenshō home"><span aria-hidden="true">◉</span> Kenshō<//>
      <${Pe} />
      <nav aria-label="Account" class="account-nav"><${it} /></nav>
    </header>
    <${$e} />
    <main id="main" tabindex="-1"><${st} path=${e} /></main>
    <footer class="site-footer">
      <p>Kenshō · <a href="/api/docs">API documentation</a></p>
    </footer>
  `}ce(n`<${je} />`,document.getElementById("app"));xe();
