import{a as ie,b as s,c as C,d as O,e as q,f as B,g as le,i as de,k as ce,l as K,m as pe,n as fe,p as ue,q as G,r as E,s as $,t as ee}from"./chunk-UH5LOXPZ.js";var te=pe(null);function me(e,n){return new Promise(o=>te.set({message:e,action:n,resolve:o}))}function $e(){let e=fe(te),n=q(null);O(()=>{let r=n.current;e&&!r.open&&r.showModal(),!e&&r.open&&r.close()},[e]);function o(r){e&&e.resolve(r),te.set(null)}return s`
    <dialog ref=${n} class="confirm" aria-labelledby="confirm-text" onCancel=${r=>{r.preventDefault(),o(!1)}}>
      <p id="confirm-text">${e?e.message:""}</p>
      <div class="confirm-buttons">
        <button type="button" onClick=${()=>o(!1)}>Cancel</button>
        <button type="button" class="primary" onClick=${()=>o(!0)}>${e?e.action:"Confirm"}</button>
      </div>
    </dialog>
  `}var I=class extends Error{constructor(n,o){super(n),this.name="ParseError",this.type=o.type,this.field=o.field,this.value=o.value,this.line=o.line}};var H=10,Y=13,T=32,be=6;function re(e){if(typeof e=="function")throw new TypeError("`config` must be an object, got a function instead. Did you mean `createParser({onEvent: fn})`?");let{maxBufferSize:n,onComment:o,onError:r,onEvent:l,onId:i,onRetry:g}=e,m=[],h=0,f="",p,v="",y=0,w,_=!1,S=!1,x=!1;function X(t){if(_)throw new Error("Cannot feed parser: it was terminated after exceeding the configured max buffer size. Call `reset()` to resume parsing.");if(f!==void 0){if(t=f+t,t===""||t==="ï"||t==="ï»"){f=t;return}f=void 0,t=t.replace(/^(?:\uFEFF|\xEF\xBB\xBF)/,"")}if((S||x)&&(t=V(t),!t))return;if(!m.length){let c=z(t);c!==""&&M(c),A();return}if(t.indexOf(`
`)===-1&&t.indexOf("\r")===-1){if(h<be){let c=m.join("")+t.slice(0,be-h);if(!j(c)){m.length=0,h=0,S=!0;return}}m.push(t),h+=t.length,A();return}m.push(t);let a=m.join("");m.length=0,h=0,M(z(a)),A()}function V(t){if(t.length===0)return t;if(x)return x=!1,t.charCodeAt(0)===H?t.slice(1):t;let a=t.indexOf("\r"),c=t.indexOf(`
`),b=a===-1?c:c===-1||a<c?a:c;return b===-1?"":b===t.length-1&&t.charCodeAt(b)===Y?(S=!1,x=!0,""):(S=!1,t.slice(b+(t.charCodeAt(b)===Y&&t.charCodeAt(b+1)===H?2:1)))}function M(t){if(t){if(t.charCodeAt(t.length-1)===Y){if(F(t,0,t.length-1),A())return;x=!0;return}if(j(t)){m.push(t),h=t.length;return}S=!0}}function j(t){let a=t.charCodeAt(0);return a===58&&!!o||a===100&&J(t,"data")||a===101&&J(t,"event")||a===105&&J(t,"id")||a===114&&J(t,"retry")}function A(){return _?!0:n===void 0||h+v.length<=n?!1:(_=!0,m.length=0,h=0,p=void 0,v="",y=0,w=void 0,S=!1,x=!1,r?.(new I(`Buffered data exceeded max buffer size of ${n} characters`,{type:"max-buffer-size-exceeded"})),!0)}function z(t){let a=0;if(t.indexOf("\r")===-1){let u=t.indexOf(`
`,a);for(;u!==-1;){if(a===u){p!==void 0&&i?.(p),y>0&&l?.({id:p,event:w,data:v}),p=void 0,v="",y=0,w=void 0,a=u+1,u=t.indexOf(`
`,a);continue}let P=t.charCodeAt(a);if(he(t,a,P)){let Z=t.charCodeAt(a+5)===T?a+6:a+5,D=t.slice(Z,u);if(y===0&&t.charCodeAt(u+1)===H){p!==void 0&&i?.(p),l?.({id:p,event:w,data:D}),p=void 0,v="",w=void 0,a=u+2,u=t.indexOf(`
`,a);continue}v=y===0?D:`${v}
${D}`,y++}else ge(t,a,P)?w=t.slice(t.charCodeAt(a+6)===T?a+7:a+6,u)||void 0:F(t,a,u);if(A())return"";a=u+1,u=t.indexOf(`
`,a)}return t.slice(a)}let c=t.indexOf("\r",a),b=t.indexOf(`
`,a);for(;a<t.length;){let u=-1;if(c!==-1&&b!==-1?u=c<b?c:b:c!==-1?c===t.length-1?u=-1:u=c:b!==-1&&(u=b),u===-1)break;if(F(t,a,u),A())return"";a=u+1,t.charCodeAt(a-1)===Y&&t.charCodeAt(a)===H&&a++,c!==-1&&c<a&&(c=t.indexOf("\r",a)),b!==-1&&b<a&&(b=t.indexOf(`
`,a))}return t.slice(a)}function F(t,a,c){if(a===c){N();return}let b=t.charCodeAt(a);if(he(t,a,b)){let k=t.charCodeAt(a+5)===T?a+6:a+5,se=t.slice(k,c);v=y===0?se:`${v}
${se}`,y++;return}if(ge(t,a,b)){w=t.slice(t.charCodeAt(a+6)===T?a+7:a+6,c)||void 0;return}if(b===105&&t.charCodeAt(a+1)===100&&t.charCodeAt(a+2)===58){let k=t.slice(t.charCodeAt(a+3)===T?a+4:a+3,c);k.includes("\0")||(p=k);return}if(b===58){if(o){let k=t.slice(a,c);o(k.slice(t.charCodeAt(a+1)===T?2:1))}return}let u=t.slice(a,c),P=u.indexOf(":");if(P===-1){U(u,"",u);return}let Z=u.slice(0,P),D=u.charCodeAt(P+1)===T?2:1,ke=u.slice(P+D);U(Z,ke,u)}function U(t,a,c){switch(t){case"event":w=a||void 0;break;case"data":v=y===0?a:`${v}
${a}`,y++;break;case"id":a.includes("\0")||(p=a);break;case"retry":/^\d+$/.test(a)?g?.(parseInt(a,10)):r?.(new I(`Invalid \`retry\` value: "${a}"`,{type:"invalid-retry",value:a,line:c}));break;default:r?.(new I(`Unknown field "${t.length>20?`${t.slice(0,20)}…`:t}"`,{type:"unknown-field",field:t,value:a,line:c}));break}}function N(){p!==void 0&&i?.(p),y>0&&l?.({id:p,event:w,data:v}),p=void 0,v="",y=0,w=void 0}function d(t={}){if(t.consume&&m.length>0){let a=m.join("");F(a,0,a.length)}f="",p=void 0,v="",y=0,w=void 0,m.length=0,h=0,_=!1,S=!1,x=!1}return{feed:X,reset:d}}function he(e,n,o){return o===100&&e.charCodeAt(n+1)===97&&e.charCodeAt(n+2)===116&&e.charCodeAt(n+3)===97&&e.charCodeAt(n+4)===58}function ge(e,n,o){return o===101&&e.charCodeAt(n+1)===118&&e.charCodeAt(n+2)===101&&e.charCodeAt(n+3)===110&&e.charCodeAt(n+4)===116&&e.charCodeAt(n+5)===58}function J(e,n){let o=1;for(;o<e.length&&o<n.length;){if(e.charCodeAt(o)!==n.charCodeAt(o))return!1;o++}return e.length<=n.length||e.charCodeAt(n.length)===58}var L=class extends Error{};async function ve(e,{onState:n,onStatus:o,signal:r}){let l=500;for(;!r.aborted;){try{let i=await fetch("/admin/events",{headers:{Accept:"text/event-stream",Authorization:`Bearer ${e}`},cache:"no-store",signal:r});if(i.status===401||i.status===404)throw new L;if(!i.ok||!i.body)throw new Error(`the feed answered ${i.status}`);o("live"),l=500;let g=re({onEvent(h){h.event==="state"?n(JSON.parse(h.data)):h.event==="shutdown"&&o("draining")}}),m=i.body.pipeThrough(new TextDecoderStream).getReader();for(;;){let{value:h,done:f}=await m.read();if(f)break;g.feed(h)}}catch(i){if(K(i)||i instanceof L)throw i}if(r.aborted)break;o("reconnecting"),await ce(l,r).catch(()=>{}),l=Math.min(l*2,1e4)}}var Ie={redis:"fleet override (Redis)",config:"configured (KENSHO_FLAGS)",default:"built-in default"};function ye(e){let n=e.setting;return{enabled:n.enabled,default_variant:n.default_variant,rollout:Object.fromEntries(e.variants.map(o=>[o,String(n.rollout[o]??0)]))}}function Le({flag:e,onSave:n,onReset:o}){let[r,l]=C(()=>ye(e));O(()=>l(ye(e)),[e.key,e.source,e.updated_at,JSON.stringify(e.setting)]);let i=e.variants.filter(f=>f!==r.default_variant),g=i.reduce((f,p)=>f+(Number(r.rollout[p])||0),0),m=`flag-${e.key}-title`;function h(f){f.preventDefault();let p={};for(let v of i){let y=Number(r.rollout[v]);y>0&&(p[v]=y)}n(e.key,{enabled:r.enabled,default_variant:r.default_variant,rollout:p})}return s`
    <article class="flag" data-flag=${e.key} aria-labelledby=${m}>
      <h3 id=${m}><code>${e.key}</code></h3>
      <p class="muted">${e.description}</p>
      <dl class="facts">
        <dt>Source</dt><dd data-field="source">${Ie[e.source]||e.source}${e.updated_at?` · set ${new Date(e.updated_at).toLocaleString("en-GB")}`:""}</dd>
        <dt>State</dt><dd>${e.setting.enabled?"on":"off (everyone gets the built-in variant)"}</dd>
        <dt>Serving</dt><dd data-field="shares">${Object.entries(e.shares).map(([f,p])=>`${f} ${E(p/100,p%1?2:0)}`).join(" · ")}</dd>
        <dt>Evaluations here</dt><dd>${Object.keys(e.evaluations).length?Object.entries(e.evaluations).map(([f,p])=>`${f} ${$(p)}`).join(" · "):"none yet"}</dd>
      </dl>
      <form class="flag-form" onSubmit=${h}>
        <label class="check"><input type="checkbox" checked=${r.enabled}
          onChange=${f=>l({...r,enabled:f.currentTarget.checked})} /> On</label>
        <div class="fields">
          <label>Default variant
            <select value=${r.default_variant}
              onChange=${f=>l({...r,default_variant:f.currentTarget.value})}>
              ${e.variants.map(f=>s`<option value=${f}>${f}</option>`)}
            </select>
          </label>
          ${i.map(f=>s`
            <label>Roll out ${f} to (%)
              <input type="number" min="0" max="100" step="0.01" inputmode="decimal" value=${r.rollout[f]}
                onInput=${p=>l({...r,rollout:{...r.rollout,[f]:p.currentTarget.value}})} />
            </label>`)}
        </div>
        <p class=${g>100?"error":"muted"} role=${g>100?"alert":void 0}>
          ${g>100?"The rollout adds up to more than 100 %.":"Clients are bucketed by a stable hash; raising a percentage keeps everyone already in."}
        </p>
        <div class="actions">
          <button type="submit" class="primary" disabled=${g>100}>Apply to the fleet</button>
          <button type="button" onClick=${()=>o(e.key)} disabled=${e.source!=="redis"}>Reset to configured</button>
        </div>
      </form>
    </article>
  `}function we({flags:e,onSave:n,onReset:o}){return e?s`
      <p class="muted" data-field="redis">${e.redis==="down"?"Redis is unreachable: this replica evaluates the configured settings, and changes are refused.":`Following the fleet's settings in Redis (re-read at least every ${e.refresh_s} s).`}</p>
      <div class="flags">${e.flags.map(r=>s`<${Le} key=${r.key} flag=${r} onSave=${n} onReset=${o} />`)}</div>
  `:s`<p class="empty">No feature flags on this replica.</p>`}function Q({values:e,label:n,max:o,width:r=160,height:l=36}){let i=e.filter(p=>Number.isFinite(p)),g=o??Math.max(...i,0),m=g>0?g:1,h=i.length>1?r/(i.length-1):r,f=i.map((p,v)=>`${(v*h).toFixed(1)},${(l-2-p/m*(l-4)).toFixed(1)}`).join(" ");return s`
    <svg class="sparkline" viewBox=${`0 0 ${r} ${l}`} width=${r} height=${l} role="img" aria-label=${n}>
      <title>${n}</title>
      <line x1="0" y1=${l-1} x2=${r} y2=${l-1} class="baseline" />
      ${i.length>1&&s`<polyline points=${f} fill="none" stroke="currentColor" stroke-width="2" />`}
    </svg>
  `}function xe({breaker:e,onMode:n}){if(!e)return s`<p class="empty">No breaker in this actor tree.</p>`;let o=e.calls||{};return s`
    <p class="big"><span class=${`state state-${e.state}`}>${e.state.replace("_"," ")}</span>
      <span class="muted"> mode ${e.mode}</span></p>
    <dl class="facts">
      <dt>Failure rate</dt><dd>${E(e.failure_rate)} (opens at ${E(e.failure_threshold,0)})</dd>
      <dt>Slow calls</dt><dd>${E(e.slow_call_rate)}</dd>
      <dt>Window</dt><dd>${$(e.buffered_calls)} of ${$(e.window_size)} calls (judges from ${$(e.minimum_calls)})</dd>
      ${e.retry_after!==null&&s`<dt>Retry after</dt><dd>${Math.ceil(e.retry_after)} s</dd>`}
      <dt>Calls</dt><dd>${Object.entries(o).map(([r,l])=>`${r} ${$(l)}`).join(" · ")}</dd>
      <dt>Transitions</dt>
      <dd>${e.transitions_by.length?e.transitions_by.map(r=>`${r.from} → ${r.to} ×${r.count}`).join(" · "):"none"}${e.last_transition?` (last: ${e.last_transition})`:""}</dd>
    </dl>
    <div class="actions">
      <button type="button" class="danger" onClick=${()=>n("forced_open")}>Force open</button>
      <button type="button" onClick=${()=>n("disabled")}>Disable</button>
      <button type="button" onClick=${()=>n("auto")}>Reset</button>
    </div>
  `}function _e({cache:e,history:n,onInvalidate:o}){let[r,l]=C("");if(!e)return s`<p class="empty">No cache actor in this tree.</p>`;let i=e.summary||{};function g(m){m.preventDefault(),r.trim()&&o(r.trim())}return s`
    <p class="big">${E(i.hit_ratio)} <span class="muted">hit ratio</span></p>
    <${Q} values=${n.hitRatio} max=${1} label=${`Cache hit ratio, last ${n.hitRatio.length} samples`} />
    <dl class="facts">
      <dt>Entries</dt><dd>${$(i.entries)} of ${$(i.max_entries)}</dd>
      <dt>Size</dt><dd>${G(i.bytes)} of ${G(i.max_bytes)}</dd>
      <dt>Tiers</dt><dd>L1 ${i.l1||"?"} · L2 ${i.l2||"?"}</dd>
      <dt>Lookups</dt><dd>${i.lookups?Object.entries(i.lookups).map(([m,h])=>`${m} ${$(h)}`).join(" · "):"–"}</dd>
      <dt>Stale served</dt><dd>${$(i.stale_served)} (if-error ${$(i.stale_if_error)})</dd>
    </dl>
    <form class="inline-form" onSubmit=${g}>
      <label>Cache key pattern
        <input type="text" value=${r} placeholder="anime:GR751KNZY|*" maxlength="256"
          onInput=${m=>l(m.currentTarget.value)} />
      </label>
      <button type="submit" disabled=${!r.trim()}>Invalidate</button>
    </form>
  `}function Ce({sync:e,onSync:n}){return e?s`
    <p class="big">${e.running?"Running":e.loaded?"Loaded":"Empty"}
      <span class="muted"> ${$(e.series_count)} series</span></p>
    ${e.running&&s`<progress max="1" value=${e.progress??void 0} aria-label="Sync progress">${E(e.progress,0)}</progress>`}
    <dl class="facts">
      <dt>Last run</dt><dd>${e.last_run?new Date(e.last_run).toLocaleString("en-GB"):"never"}</dd>
      <dt>Result</dt><dd>${e.last_result||"–"}</dd>
      ${e.last_error&&s`<dt>Error</dt><dd class="failure">${e.last_error}</dd>`}
    </dl>
    <div class="actions"><button type="button" onClick=${n} disabled=${e.running}>Sync now</button></div>
  `:s`<p class="empty">No catalog sync job on this replica.</p>`}function Se({bandwidth:e,streams:n,history:o}){if(!e)return s`<p class="empty">No stream statistics.</p>`;let r=o.kbps.length?o.kbps[o.kbps.length-1]:0;return s`
    <p class="big">${$(Math.round(r))} <span class="muted">kbit/s reported · ${$(n)} open streams</span></p>
    <${Q} values=${o.kbps} label=${`Players' reported bandwidth, last ${o.kbps.length} samples`} />
    <div class="table-wrap" tabindex="0" role="region" aria-label="Bandwidth by quality (scrolls sideways)">
    <table class="compact">
      <thead><tr><th scope="col">Quality</th><th scope="col">Reports</th><th scope="col">Average</th><th scope="col">Received</th><th scope="col">Underruns</th></tr></thead>
      <tbody>
        ${Object.entries(e).map(([l,i])=>s`<tr key=${l}>
          <th scope="row">${l}</th><td>${$(i.reports)}</td><td>${$(Math.round(i.average_kbps))} kbit/s</td>
          <td>${G(i.bytes)}</td><td>${$(i.underruns)}</td></tr>`)}
      </tbody>
    </table>
    </div>
  `}function Ae({state:e,history:n}){return s`
    <dl class="facts">
      <dt>Uptime</dt><dd>${Math.round(e.uptime_s)} s</dd>
      <dt>Requests in flight</dt><dd>${$(e.in_flight)}</dd>
      <dt>Event loop lag</dt><dd>${e.loop_lag_ms.toFixed(1)} ms</dd>
    </dl>
    <${Q} values=${n.lag} label=${`Event loop lag in ms, last ${n.lag.length} samples`} />
  `}function Ee({analytics:e,error:n,onRefresh:o}){return s`
    ${n&&s`<p class="error" role="alert">${n}</p>`}
    ${e&&s`
      <div class="two">
        <div>
          <h3>Top queries</h3>
          ${e.top_queries.length?s`<ol class="queries">${e.top_queries.map(r=>s`<li><span>${r.query}</span> <span class="muted">${$(r.count)}</span></li>`)}</ol>`:s`<p class="empty">No searches yet.</p>`}
        </div>
        <div>
          <h3>Queries with no result</h3>
          ${e.zero_result_queries.length?s`<ol class="queries">${e.zero_result_queries.map(r=>s`<li><span>${r.query}</span> <span class="muted">${$(r.count)}</span></li>`)}</ol>`:s`<p class="empty">None.</p>`}
        </div>
      </div>
      <p class="muted">Last ${Math.round(e.window_s/3600)} h; ${$(e.recorder.recorded)} searches recorded here.</p>`}
    <div class="actions"><button type="button" onClick=${o}>Refresh</button></div>
  `}var je=["Name","State","Mailbox","Processed","Failed","Restarts","p50","p99","Uptime","Last failure"];function ae(e,n=0,o=[]){o.push({node:e,depth:n});for(let r of e.children||[])ae(r,n+1,o);return o}function Re({value:e}){return s`<span class=${`state state-${e}`}>${(e||"").replace("_"," ")}</span>`}function Ne(e){if(!e)return"";let n=new Date(e.at*1e3).toLocaleTimeString("en-GB");return`${e.type}: ${e.message} (${n})`}function Pe({tree:e,onRestart:n}){if(!e)return s`<p class="empty">The actor system is not running.</p>`;let o=ae(e);return s`
    <div class="table-wrap" tabindex="0" role="region" aria-label="Supervision tree">
      <table class="tree" role="table">
        <thead role="rowgroup">
          <tr role="row">
            ${je.map(r=>s`<th scope="col" role="columnheader">${r}</th>`)}
            <th scope="col" role="columnheader"><span class="visually-hidden">Actions</span></th>
          </tr>
        </thead>
        <tbody role="rowgroup">
          ${o.map(({node:r,depth:l})=>r.kind==="supervisor"?s`<tr key=${`sup-${r.name}`} role="row" class="supervisor" data-actor=${r.name}>
                  <th scope="row" role="rowheader" class=${`depth-${Math.min(l,4)}`}>${r.name}</th>
                  <td role="cell" data-label="State"><${Re} value=${r.failed?"failed":"running"} /></td>
                  <td role="cell" data-label="Strategy" colspan="3">${r.strategy} supervisor</td>
                  <td role="cell" data-label="Restarts" data-col="restarts">${r.restarts_in_period} of ${r.intensity} in ${r.period} s</td>
                  <td role="cell" colspan="3" class="blank"></td>
                  <td role="cell" data-label="Failure" class=${r.failure_reason?"failure":"blank"}>${r.failure_reason||""}</td>
                  <td role="cell" class="blank"></td>
                </tr>`:s`<tr key=${`actor-${r.name}`} role="row" data-actor=${r.name}>
                  <th scope="row" role="rowheader" class=${`depth-${Math.min(l,4)}`}>${r.name}</th>
                  <td role="cell" data-label="State"><${Re} value=${r.state} /></td>
                  <td role="cell" data-label="Mailbox" data-col="mailbox">${$(r.mailbox_depth)}${r.stashed?` (+${r.stashed} stashed)`:""}</td>
                  <td role="cell" data-label="Processed" data-col="processed">${$(r.processed)}</td>
                  <td role="cell" data-label="Failed" data-col="failed">${$(r.failed)}</td>
                  <td role="cell" data-label="Restarts" data-col="restarts">${$(r.restarts)}</td>
                  <td role="cell" data-label="p50">${ee(r.processing_us&&r.processing_us.p50)}</td>
                  <td role="cell" data-label="p99">${ee(r.processing_us&&r.processing_us.p99)}</td>
                  <td role="cell" data-label="Uptime">${ue(r.uptime_s)}</td>
                  <td role="cell" data-label="Last failure" class=${r.last_failure?"failure":"blank"}>${Ne(r.last_failure)}</td>
                  <td role="cell" class="restart-cell"><button type="button" onClick=${()=>n(r.name)} aria-label=${`Restart ${r.name}`}>Restart</button></td>
                </tr>`)}
        </tbody>
      </table>
    </div>
  `}function W(e,n){return e?ae(e).map(o=>o.node).find(o=>o.name===n):void 0}var oe="kensho.adminToken",Oe=120,De=3e4;function Be({onToken:e,refused:n}){let[o,r]=C("");return s`
    <section class="token card">
      <h1>Kenshō operator console</h1>
      <form onSubmit=${l=>{l.preventDefault(),o.trim()&&e(o.trim())}} class="stack">
        <label for="admin-token">Admin token</label>
        <input id="admin-token" type="password" autocomplete="off" value=${o} onInput=${l=>r(l.currentTarget.value)} required />
        <button type="submit" class="primary">Connect</button>
        <p class="error" role="alert">${n?"The server refused this token.":""}</p>
      </form>
      <p class="muted">The token (<code>KENSHO_ADMIN_TOKEN</code>) stays in this tab's session storage.</p>
    </section>
  `}function R({id:e,title:n,wide:o=!1,children:r}){return s`<section class=${o?"card wide":"card"} aria-labelledby=${`${e}-heading`}>
    <h2 id=${`${e}-heading`}>${n}</h2>
    ${r}
  </section>`}function ne(e,n){let o=[...e,n];return o.length>Oe?o.slice(o.length-Oe):o}function Te(e){return e?Object.values(e).reduce((n,o)=>n+o.bytes,0):0}function Me({token:e,onRefused:n}){let[o,r]=C(null),[l,i]=C("connecting"),[g,m]=C({hitRatio:[],kbps:[],lag:[]}),[h,f]=C([]),[p,v]=C({data:null,error:null}),y=q(null),w=B((d,t=!1)=>{f(a=>[{text:d,bad:t,at:new Date().toLocaleTimeString("en-GB")},...a].slice(0,6))},[]),_=B((d,t={})=>de(d,{...t,token:e}).catch(a=>{throw a instanceof le&&(a.status===401||a.status===404)&&n(),a}),[e,n]);O(()=>{let d=new AbortController;return ve(e,{signal:d.signal,onStatus:i,onState(t){r(t);let a=W(t.tree,"cache"),c=y.current,b=c&&t.at>c.at?(Te(t.bandwidth)-Te(c.bandwidth))*8/1e3/(t.at-c.at):0;y.current=t,m(u=>({hitRatio:ne(u.hitRatio,a&&a.summary?a.summary.hit_ratio??0:0),kbps:ne(u.kbps,Math.max(0,b)),lag:ne(u.lag,t.loop_lag_ms)}))}}).catch(t=>{t instanceof L?n():K(t)||i("reconnecting")}),()=>d.abort()},[e]);let S=B(()=>{_("/admin/search/analytics?window=24h&limit=10").then(d=>v({data:d,error:null})).catch(d=>v(t=>({...t,error:d.message})))},[_]);O(()=>{S();let d=setInterval(S,De);return()=>clearInterval(d)},[S]);async function x(d,t,a,c){if(await me(d,t))try{w(c(await a()))}catch(b){w(`${t} failed: ${b.message}`,!0)}}let X=d=>x(`Restart the ${d} actor? Its mailbox is stashed and replayed.`,"Restart",()=>_(`/admin/actors/${encodeURIComponent(d)}/restart`,{method:"POST"}),()=>`Restarted ${d}.`),V=d=>{let t={forced_open:"Force the breaker open? Every upstream call fails fast.",disabled:"Disable the breaker? Upstream calls are never refused.",auto:"Reset the breaker to automatic?"}[d];return x(t,{forced_open:"Force open",disabled:"Disable",auto:"Reset"}[d],()=>_("/admin/breaker",{method:"POST",body:{mode:d}}),a=>`Breaker is ${a.state} (mode ${a.mode}).`)},M=d=>x(`Invalidate every cache key matching “${d}” on every replica?`,"Invalidate",()=>_("/admin/cache/invalidate",{method:"POST",body:{pattern:d}}),t=>`Invalidated ${t.invalidated} key(s) matching “${t.pattern}”.`),j=d=>{let t=Object.entries(d.rollout).map(([a,c])=>`${a} to ${c} %`).join(", ");return`${d.enabled?"on":"off"}, default ${d.default_variant}${t?`, ${t}`:""}`},A=(d,t)=>x(`Set ${d} for the whole fleet: ${j(t)}?`,"Apply",()=>_(`/admin/flags/${encodeURIComponent(d)}`,{method:"PUT",body:t}),a=>`${a.key} is now ${j(a.setting)} on every replica.`),z=d=>x(`Drop the fleet's override of ${d}? Every replica goes back to its configured setting.`,"Reset",()=>_(`/admin/flags/${encodeURIComponent(d)}`,{method:"DELETE"}),t=>`${t.key} is back to its ${t.source==="config"?"configured":"built-in"} setting.`),F=()=>x("Start a catalog sync now?","Sync now",()=>_("/admin/catalog/sync",{method:"POST"}),()=>"Catalog sync started."),U={live:"Live",connecting:"Connecting…",reconnecting:"Reconnecting…",draining:"Server shutting down"},N=W(o&&o.tree,"session_pool");return s`
    <header class="console-header">
      <h1>Kenshō operator console</h1>
      <p class=${`connection connection-${l}`} role="status">${U[l]||l}${o&&o.draining?" · draining":""}</p>
      <button type="button" onClick=${n}>Forget token</button>
    </header>
    <div class="log" role="log" aria-label="Actions" aria-live="polite">
      ${h.map(d=>s`<p class=${d.bad?"error":""}>${d.at} ${d.text}</p>`)}
    </div>
    ${o?s`
      <main class="panels">
        <${R} id="tree" title="Supervision tree" wide>
          <${Pe} tree=${o.tree} onRestart=${X} />
        <//>
        <${R} id="breaker" title="Upstream breaker">
          <${xe} breaker=${o.breaker} onMode=${V} />
        <//>
        <${R} id="cache" title="Cache">
          <${_e} cache=${W(o.tree,"cache")} history=${g} onInvalidate=${M} />
        <//>
        <${R} id="sync" title="Catalog sync">
          <${Ce} sync=${o.sync} onSync=${F} />
        <//>
        <${R} id="streams" title="Streams">
          <${Se} bandwidth=${o.bandwidth} streams=${N&&N.summary?N.summary.streams:0} history=${g} />
        <//>
        <${R} id="process" title="Process">
          <${Ae} state=${o} history=${g} />
        <//>
        <${R} id="flags" title="Feature flags" wide>
          <${we} flags=${o.flags} onSave=${A} onReset=${z} />
        <//>
        <${R} id="search" title="Search analytics" wide>
          <${Ee} analytics=${p.data} error=${p.error} onRefresh=${S} />
        <//>
      </main>`:s`<p class="empty">Waiting for the first update…</p>`}
    <${$e} />
  `}function Fe(){let[e,n]=C(()=>sessionStorage.getItem(oe)),[o,r]=C(!1),l=g=>{sessionStorage.setItem(oe,g),r(!1),n(g)},i=B(()=>{sessionStorage.removeItem(oe),r(!0),n(null)},[]);return e?s`<${Me} key=${e} token=${e} onRefused=${i} />`:s`<main><${Be} onToken=${l} refused=${o} /></main>`}ie(s`<${Fe} />`,document.getElementById("app"));
